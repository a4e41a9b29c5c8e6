"""A thread's stack in its slot, under the two designs of the stack area, and Genode's growth.

- flat (the reporter's fear, 2010): the whole 256 MiB area is one attachment, made once for
  the PD; a stack is just a range of it, so the pager backs any address in the area.
- managed (Genode's design): the area is a sub region map; each stack is a dataspace attached
  at the top of its slot, and nothing else is attached, so a fault below a stack is unresolvable.
- Growth (Genode's `Stack::size`): a stack grows downward inside its slot in page-aligned
  steps, each a new dataspace attached just below the stack. A stack has at most
  MAX_MAPPINGS attachments (its first dataspace and three growth steps); a growth that would
  be a fifth mapping, or would reach below the slot, fails with Stack_too_large.

Frames: a workload pushes frames down from the stack top (just below the Context record),
each written through the MMU and read back; the Context record holds a known pattern.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kernel_model.genode.core import CoreConnection
from kernel_model.genode.errors import CoreRefused, Reason, StackAllocFailed
from kernel_model.genode.layout import (
    AREA_BASE,
    AREA_SIZE,
    CONTEXT_RECORD_SIZE,
    context_address,
    page_round_up,
    slot_offset,
    stack_ds_size,
    stack_offset,
)
from kernel_model.genode.mmu import Mmu
from kernel_model.genode.status import Status

MAX_MAPPINGS = 4  # Genode today: a stack grows in page-aligned steps, at most 4 mappings
_MASK = (1 << 64) - 1


@dataclass
class Stack:
    """A thread's stack in its slot: the dataspaces that back it, the first at the top of
    the slot, each growth step just below; `record` is the thread's entry in the PD's list
    of threads (0 where the allocator keeps none)."""

    slot: int
    base: int  # lowest address of the stack: it grows down from here
    mappings: list[tuple[int, int, int]] = field(default_factory=list)  # (ds, offset, size)
    record: int = 0

    @property
    def top(self) -> int:
        """The thread's Context record (what `_is_in_use` compares); frames go down from here."""
        return context_address(self.slot)

    @property
    def size(self) -> int:
        return self.top - self.base

    @property
    def slot_base(self) -> int:
        return AREA_BASE + slot_offset(self.slot)


class StackArea:
    design = ""

    def __init__(self, core: CoreConnection):
        self.core = core

    def create(self, slot: int, stack_size: int) -> Stack:
        raise NotImplementedError

    def destroy(self, stack: Stack) -> None:
        for ds, offset, _ in stack.mappings:
            self._ok("detach", self.core.detach(offset))
            self._ok("ram_free", self.core.ram_free(ds))
        stack.mappings.clear()

    def _attach(self, offset: int, size: int) -> tuple[Status, int]:
        st, ds = self.core.ram_alloc(size)
        self._ok("ram_alloc", st)
        st, _ = self.core.attach_at(ds, offset, size)
        if st != Status.OK:
            self._ok("ram_free", self.core.ram_free(ds))
        return st, ds

    @staticmethod
    def _ok(what: str, st: Status) -> None:
        if st != Status.OK:
            raise CoreRefused(f"{what} answered {st.name}")


class FlatArea(StackArea):
    """The whole area is one attachment; a stack needs no request to core."""

    design = "flat"

    @staticmethod
    def attach_whole_area(core: CoreConnection) -> None:
        """What the PD's environment does once, before any thread runs."""
        st, ds = core.ram_alloc(AREA_SIZE)
        StackArea._ok("ram_alloc", st)
        StackArea._ok("attach_at", core.attach_at(ds, 0, AREA_SIZE)[0])

    def create(self, slot: int, stack_size: int) -> Stack:
        return Stack(slot, AREA_BASE + stack_offset(slot, stack_size))


class ManagedArea(StackArea):
    """Only the stacks are attached in the area's sub region map."""

    design = "managed"

    def __init__(self, core: CoreConnection, limits: bool = True):
        super().__init__(core)
        self.limits = limits  # False: growth without Genode's checks (to show why they exist)

    def create(self, slot: int, stack_size: int) -> Stack:
        size, offset = stack_ds_size(stack_size), stack_offset(slot, stack_size)
        st, ds = self._attach(offset, size)
        self._ok("attach_at", st)
        return Stack(slot, AREA_BASE + offset, [(ds, offset, size)])

    def grow(self, stack: Stack, size: int) -> None:
        """Genode's `Stack::size(size)`: make the stack at least `size` bytes, downward."""
        if stack.size >= size:
            return
        ds_size = page_round_up(size - stack.size)
        if self.limits:
            if len(stack.mappings) >= MAX_MAPPINGS:
                raise StackAllocFailed(
                    Reason.STACK_TOO_LARGE,
                    "grow",
                    f"a growth to {size} bytes would be mapping {len(stack.mappings) + 1}, "
                    f"at most {MAX_MAPPINGS}",
                )
            if stack.base - ds_size < stack.slot_base:
                raise StackAllocFailed(
                    Reason.STACK_TOO_LARGE,
                    "grow",
                    f"a growth to {size} bytes reaches {stack.base - ds_size:#x}, below the "
                    f"slot base {stack.slot_base:#x}",
                )
        offset = stack.base - ds_size - AREA_BASE
        st, ds = self._attach(offset, ds_size)
        if st == Status.REGION_CONFLICT:
            raise StackAllocFailed(Reason.REGION_CONFLICT, "grow", f"growth at offset {offset:#x}")
        self._ok("attach_at", st)
        stack.mappings.append((ds, offset, ds_size))
        stack.base -= ds_size


AREAS: dict[str, type[StackArea]] = {cls.design: cls for cls in (FlatArea, ManagedArea)}


# -- what runs on a stack ---------------------------------------------------------------------
def context_pattern(tag: int) -> bytes:
    """The Context record a thread's creation writes at the top of its slot."""
    word = (0xC0_17E7_0000_0000 | (tag & 0xFFFF_FFFF)).to_bytes(8, "little")
    return word * (CONTEXT_RECORD_SIZE // 8)


def frame_pattern(tag: int, index: int, frame_size: int) -> bytes:
    return (((tag << 24) | index) & _MASK).to_bytes(8, "little") * (frame_size // 8)


def frame_address(top: int, index: int, frame_size: int) -> int:
    return top - (index + 1) * frame_size


def push_frames(mmu: Mmu, top: int, depth: int, frame_size: int, tag: int) -> int:
    """Push `depth` frames down from `top`, each written and read back. Answers how many
    frames read back wrong (another thread wrote there); raises UnresolvableFault."""
    wrong = 0
    for i in range(depth):
        address, data = frame_address(top, i, frame_size), frame_pattern(tag, i, frame_size)
        mmu.write(address, data)
        wrong += not mmu.same(address, data)
    return wrong


def frames_intact(mmu: Mmu, top: int, depth: int, frame_size: int, tag: int) -> bool:
    """Are the `depth` frames pushed from `top` still what their thread wrote?"""
    return all(
        mmu.same(frame_address(top, i, frame_size), frame_pattern(tag, i, frame_size))
        for i in range(depth)
    )


def fits(stack_size: int, frame_size: int) -> int:
    """How many frames fit a stack of `stack_size` bytes."""
    return stack_size // frame_size
