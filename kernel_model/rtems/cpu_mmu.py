"""One CPU's MMU: an access is looked up in the CPU's TLB (if it has one), else in its table.

The answer says which mechanism granted or refused the access, so a scenario can tell a
stale TLB entry (granted by the TLB, refused by the table) from a current mapping.
"""

from __future__ import annotations

from enum import Enum

from kernel_model.page_table import PAGE_SIZE, PageTable, Perm
from kernel_model.rtems.tlb import Tlb


class Translation(Enum):
    FAULT = "fault"  # neither the TLB nor the table grants the access
    TABLE = "table"  # the table grants it (a TLB miss, filled, or no TLB)
    TLB_HIT = "tlb_hit"  # a TLB entry grants it and the table still agrees
    TLB_STALE = "tlb_stale"  # a TLB entry grants it but the table no longer does


class CpuMmu:
    def __init__(self, table: PageTable, tlb: Tlb | None = None):
        self.table, self.tlb = table, tlb

    def page(self, address: int) -> int:
        return (address - self.table.base) // PAGE_SIZE

    def access(self, address: int, size: int, need: Perm) -> Translation:
        """Translate an access within one page (the probes and share accesses are)."""
        tlb = self.tlb
        if tlb is not None:
            page = self.page(address)
            cached = tlb.lookup(page)
            if cached is not None and cached & need == need:
                if self.table.check(address, size, need) is None:
                    return Translation.TLB_HIT
                return Translation.TLB_STALE
            if self.table.check(address, size, need) is not None:
                return Translation.FAULT  # a fault is never cached
            tlb.fill(page, self._entry(page))
            return Translation.TABLE
        return Translation.FAULT if self.table.check(address, size, need) else Translation.TABLE

    def _entry(self, page: int) -> Perm:
        address = self.table.base + page * PAGE_SIZE
        if self.table.check(address, 1, Perm.RW) is None:
            return Perm.RW
        return Perm.READ
