"""The custom stack allocator (CONFIGURE_TASK_ALLOCATOR_INIT): page-aligned stacks in one area.

Every stack starts and ends on a page boundary, so mapping one never exposes a neighbour.
"""

from __future__ import annotations

from kernel_model.page_table import PAGE_SIZE

# The RTEMS stack area of the model: its own range, away from Genode's context area.
STACK_AREA_BASE = 0x6000_0000
STACK_AREA_SIZE = 8 << 20
STACK_AREA_PAGES = STACK_AREA_SIZE // PAGE_SIZE
MAX_STACK_SIZE = 1 << 20


class StackSizeError(ValueError):
    """A stack of size zero, not a whole number of pages, or larger than the maximum."""


class OutOfStackArea(ValueError):
    """The area holds no more stacks of this size."""


def check_stack_size(size: int) -> None:
    if size <= 0 or size % PAGE_SIZE or size > MAX_STACK_SIZE:
        raise StackSizeError(
            f"stack size {size} bytes: expected a multiple of {PAGE_SIZE} in "
            f"{PAGE_SIZE}..{MAX_STACK_SIZE} bytes (page-aligned)"
        )


def stacks_that_fit(size: int) -> int:
    check_stack_size(size)
    return STACK_AREA_SIZE // size


class StackAllocator:
    """A bump allocator over [base, base+size): stacks are never freed during a run."""

    def __init__(self, base: int = STACK_AREA_BASE, size: int = STACK_AREA_SIZE):
        if base % PAGE_SIZE or size % PAGE_SIZE:
            raise StackSizeError(f"stack area {base:#x}+{size:#x} is not page-aligned")
        self.base, self.size, self.next = base, size, base

    def alloc(self, size: int) -> int:
        check_stack_size(size)
        if self.next + size > self.base + self.size:
            raise OutOfStackArea(
                f"stack of {size} bytes: the area {self.base:#x}+{self.size:#x} holds "
                f"{self.size // size} such stacks, all taken"
            )
        address, self.next = self.next, self.next + size
        return address
