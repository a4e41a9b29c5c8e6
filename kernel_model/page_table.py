"""A page table over a virtual range: per 4 KiB page, present/read and write bits.

Only core (the kernel) writes it; the accessing process checks its own accesses against it
"in hardware", over the whole range an access touches in one call. Genode's PDs and the
RTEMS CPUs both use this one table (one byte a page, in memory the caller gives).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntFlag
from typing import Protocol

PAGE_SIZE = 4 << 10  # a 4 KiB page: Genode's and the ARMv7 short descriptors' small page


class Perm(IntFlag):
    NONE = 0  # no entry: an access is a translation fault
    READ = 1  # present and readable
    WRITE = 2
    RW = 3


class PageBytes(Protocol):
    def set_range(self, start: int, n: int, value: int) -> None: ...
    def first_lacking(self, start: int, n: int, need: int) -> int: ...


@dataclass(frozen=True)
class Fault:
    address: int  # the first page of the access that lacks the permission
    access: Perm  # what the access needed
    present: bool  # False: translation fault; True: permission fault


class PageTable:
    def __init__(self, entries: PageBytes, base: int, npages: int):
        self.entries, self.base, self.npages = entries, base, npages

    def _pages(self, address: int, size: int) -> tuple[int, int]:
        if size <= 0 or address < self.base or address + size > self.base + self.npages * PAGE_SIZE:
            raise ValueError(
                f"range {address:#x}+{size:#x} outside {self.base:#x}.."
                f"{self.base + self.npages * PAGE_SIZE:#x}"
            )
        first = (address - self.base) // PAGE_SIZE
        last = (address + size - 1 - self.base) // PAGE_SIZE
        return first, last - first + 1

    def map(self, address: int, size: int, perm: Perm) -> None:
        first, n = self._pages(address, size)
        self.entries.set_range(first, n, int(perm))

    def unmap(self, address: int, size: int) -> None:
        first, n = self._pages(address, size)
        self.entries.set_range(first, n, 0)

    def check(self, address: int, size: int, access: Perm) -> Fault | None:
        """The fault an access of `size` bytes at `address` takes, or None if it may go on."""
        first, n = self._pages(address, size)
        bad = self.entries.first_lacking(first, n, int(access))
        if bad < 0:
            return None
        present = self.entries.first_lacking(bad, 1, int(Perm.READ)) < 0
        return Fault(self.base + bad * PAGE_SIZE, access, present)
