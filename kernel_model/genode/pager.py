"""Core's pager for one PD: a page fault inside an attached dataspace is resolved by mapping
the page; any other fault is unresolvable and reported (Genode: "illegal fault", thread stopped).

Mapping is lazy, one 4 KiB page a fault, read-write (stacks are writable): attaching maps
nothing, the first access to each page faults once, and detaching unmaps the whole range.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kernel_model.genode.layout import AREA_BASE, AREA_SIZE, PAGE_SIZE
from kernel_model.genode.region_map import RegionMap
from kernel_model.genode.status import Status
from kernel_model.page_table import PageTable, Perm


def region_map_of(address: int) -> str:
    """The region map a fault at `address` is looked up in: the stack area's (a sub region
    map of the PD's address space) or, outside it, the PD's address space itself."""
    return "stack_area" if AREA_BASE <= address < AREA_BASE + AREA_SIZE else "address_space"


@dataclass(frozen=True)
class FaultReport:
    """An unresolvable fault, as core reports it."""

    pd: int
    thread: int
    address: int
    access: Perm
    region_map: str  # the region map that had no attachment at `address`

    def as_dict(self) -> dict[str, int | str]:
        return {
            "pd": self.pd, "thread": self.thread, "address": self.address,
            "access": access_name(self.access), "region_map": self.region_map,
        }  # fmt: skip


def access_name(access: int) -> str:
    return {1: "read", 2: "write", 3: "read_write"}.get(access, f"access{access}")


class Pager:
    def __init__(
        self,
        pd: int,
        region_map: RegionMap,
        page_table: PageTable,
        report: Callable[[FaultReport], None],
    ):
        self.pd, self.region_map, self.page_table, self.report = pd, region_map, page_table, report
        self.resolved = self.unresolvable = 0

    def fault(self, address: int, access: int, thread: int) -> Status:
        """Resolve the fault (the thread retries its access) or report it (the thread stops)."""
        if self.region_map.attached(address - AREA_BASE):
            self.page_table.map(address & ~(PAGE_SIZE - 1), PAGE_SIZE, Perm.RW)
            self.resolved += 1
            return Status.OK
        self.unresolvable += 1
        self.report(FaultReport(self.pd, thread, address, Perm(access), region_map_of(address)))
        return Status.UNRESOLVABLE_FAULT

    def unmap(self, offset: int, size: int) -> None:
        """After a detach: the range's pages fault again."""
        self.page_table.unmap(AREA_BASE + offset, size)
