"""The Genode stack ("context") area: where each slot, stack and Context record lies.

Constants are from the 2010 report (seeds/genode-thread-stack-allocation.txt) and Genode's
stack allocator of today; addresses are absolute, offsets are relative to AREA_BASE.
"""

from __future__ import annotations

from kernel_model.page_table import PAGE_SIZE

AREA_BASE = 0x4000_0000  # report: "Beginning from virtual address 0x4000.0000"
AREA_SIZE = 256 << 20  # report: "attaches the whole address area of 256 MB"
SLOT_SIZE = 1 << 20  # report: "for each new stack a segment of 1 MB is reserved"
NUM_SLOTS = AREA_SIZE // SLOT_SIZE  # 256, as Genode today: 256 slots a component
PAGES_PER_SLOT = SLOT_SIZE // PAGE_SIZE
AREA_PAGES = AREA_SIZE // PAGE_SIZE

CONTEXT_RECORD_SIZE = 256  # the Context record at the very top of the stack dataspace
UTCB_SIZE = PAGE_SIZE  # Genode: the UTCB sits in the slot beside the stack
# Genode today: "stack size below 1 MiB minus the UTCB minus one page"
MAX_STACK_SIZE = SLOT_SIZE - UTCB_SIZE - PAGE_SIZE - CONTEXT_RECORD_SIZE


def page_round_up(size: int) -> int:
    return (size + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)


def stack_ds_size(stack_size: int) -> int:
    """Size of the stack dataspace: the stack plus the Context record, in whole pages."""
    return page_round_up(stack_size + CONTEXT_RECORD_SIZE)


def slot_offset(slot: int) -> int:
    return slot * SLOT_SIZE


def stack_offset(slot: int, stack_size: int) -> int:
    """Attach offset of a stack: at the top end of its slot (report: 0x400fc000 -> 0xfc000)."""
    return slot_offset(slot + 1) - stack_ds_size(stack_size)


def context_address(slot: int) -> int:
    """Address of the Context record of the thread in `slot`: the key `_is_in_use` compares."""
    return AREA_BASE + slot_offset(slot + 1) - CONTEXT_RECORD_SIZE


def slot_of_offset(offset: int) -> int:
    return offset // SLOT_SIZE


def slot_of_context(context: int) -> int:
    return (context - AREA_BASE) // SLOT_SIZE
