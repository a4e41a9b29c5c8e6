"""The protected context switch of the RTEMS branch, on one CPU's page table and TLB.

Order (DESIGN.md, "Details of the RTEMS code"): map the heir's stack read-write, load the
heir's stack pointer, unmap the outgoing stack, unmap its shares; on restore, map the
heir's shares with their own flags. Every map or unmap writes one entry a page and
invalidates the CPU's own TLB entry of each page; with `remote` TLBs an unmap is also
broadcast to the other CPUs (a shootdown), which the branch does not do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kernel_model.page_table import PAGE_SIZE, PageTable, Perm
from kernel_model.rtems.stack import StackRecord, perm_of
from kernel_model.rtems.tlb import Tlb

POINT_BOTH_MAPPED = "switch.unmap"  # heir mapped, outgoing not yet unmapped


class ProtectedSwitch:
    def __init__(
        self,
        table: PageTable,
        tlb: Tlb | None = None,
        remote: Sequence[Tlb] = (),
        point: Callable[[str], None] | None = None,
    ):
        self.table, self.tlb, self.remote, self.point = table, tlb, tuple(remote), point
        self.pages_written = 0  # entries written, for the benchmark
        self.shootdowns = 0

    def _pages(self, address: int, size: int) -> tuple[int, int]:
        first = (address - self.table.base) // PAGE_SIZE
        return first, (address + size - 1 - self.table.base) // PAGE_SIZE - first + 1

    def _set(self, address: int, size: int, perm: Perm) -> None:
        if perm:
            self.table.map(address, size, perm)
        else:
            self.table.unmap(address, size)
        first, n = self._pages(address, size)
        self.pages_written += n
        if self.tlb is not None:
            self.tlb.invalidate(first, n)  # TLBIMVA of each page, on this CPU only
        if not perm and self.remote:
            for tlb in self.remote:  # the broadcast the branch lacks
                tlb.invalidate(first, n)
            self.shootdowns += 1

    def switch(self, outgoing: StackRecord | None, heir: StackRecord) -> None:
        self._set(heir.address, heir.size, Perm.RW)
        if self.point is not None:
            self.point(POINT_BOTH_MAPPED)
        if outgoing is not None and outgoing is not heir:
            self._set(outgoing.address, outgoing.size, Perm.NONE)
            for s in outgoing.shares:
                # The branch unmaps every share; one inside the heir's own stack would
                # take the stack the heir now runs on. The model keeps the heir's stack.
                if not heir.contains(s.address, s.size):
                    self._set(s.address, s.size, Perm.NONE)
        for s in heir.shares:
            self._set(s.address, s.size, perm_of(s.access))
