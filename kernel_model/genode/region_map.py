"""A PD's region map over the stack area: which ranges have a dataspace attached.

Occupancy is a page bitmap (one bit a 4 KiB page) so a conflict test of a whole
attachment is one range call, not one call a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kernel_model.genode.layout import AREA_BASE, AREA_SIZE, PAGE_SIZE
from kernel_model.genode.ram import RamService
from kernel_model.genode.status import Status


class PageBitmap(Protocol):
    def any_set(self, start: int, n: int) -> bool: ...
    def set_range(self, start: int, n: int) -> None: ...
    def clear_range(self, start: int, n: int) -> None: ...


@dataclass(frozen=True)
class Attachment:
    ds: int
    offset: int
    size: int


class RegionMap:
    def __init__(self, pd: int, pages: PageBitmap, ram: RamService):
        self.pd, self.pages, self.ram = pd, pages, ram
        self.attachments: dict[int, Attachment] = {}  # by offset

    def attach_at(self, ds: int, offset: int, size: int) -> tuple[Status, int]:
        """Attach `size` bytes of `ds` at `offset` from the area base; answers the address."""
        d = self.ram.lookup(self.pd, ds)
        if d is None:
            return Status.INVALID_DATASPACE, 0
        if offset % PAGE_SIZE or size % PAGE_SIZE:
            return Status.UNALIGNED, 0
        if size <= 0:
            return Status.INVALID_SIZE, 0
        if offset < 0 or offset + size > AREA_SIZE:
            return Status.INVALID_RANGE, 0
        if size > d.size:
            return Status.DATASPACE_TOO_SMALL, 0
        first, n = offset // PAGE_SIZE, size // PAGE_SIZE
        if self.pages.any_set(first, n):
            return Status.REGION_CONFLICT, 0
        self.pages.set_range(first, n)
        self.attachments[offset] = Attachment(ds, offset, size)
        d.attached += 1
        return Status.OK, AREA_BASE + offset

    def attached(self, offset: int) -> bool:
        """Does an attachment back the byte at `offset`? (the pager's question; one C call)"""
        return 0 <= offset < AREA_SIZE and self.pages.any_set(offset // PAGE_SIZE, 1)

    def detach(self, offset: int) -> Status:
        if offset < 0 or offset >= AREA_SIZE:
            return Status.INVALID_RANGE
        a = self.attachments.pop(offset, None)
        if a is None:
            return Status.NOT_ATTACHED
        self.pages.clear_range(offset // PAGE_SIZE, a.size // PAGE_SIZE)
        d = self.ram.lookup(self.pd, a.ds)
        if d is not None:
            d.attached -= 1
        return Status.OK
