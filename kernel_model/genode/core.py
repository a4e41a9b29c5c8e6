"""Genode's core as the PDs see it: RAM service and one region map a PD, behind one request call.

`Core.serve` is what the core process runs for each request; `CoreConnection` is what a
PD's allocator calls. Both speak in plain integers, so any transport can carry them.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from kernel_model.genode.layout import AREA_BASE, AREA_SIZE, slot_of_offset
from kernel_model.genode.pager import FaultReport, Pager, access_name, region_map_of
from kernel_model.genode.ram import RamService
from kernel_model.genode.region_map import PageBitmap, RegionMap
from kernel_model.genode.status import Status
from kernel_model.page_table import PAGE_SIZE, PageTable, Perm


class Op(IntEnum):
    NULL = 0  # answers OK at once: the bare round trip, for benchmarks
    RAM_ALLOC = 1  # (size) -> ds
    RAM_FREE = 2  # (ds)
    ATTACH_AT = 3  # (ds, offset, size) -> address
    DETACH = 4  # (offset)
    FAULT = 5  # (address, access, thread): a page fault, for the pager (needs page tables)


_NULL, _RAM_ALLOC, _RAM_FREE, _ATTACH_AT, _DETACH, _FAULT = map(int, Op)
_U64 = (1 << 64) - 1  # what a mailbox word holds


class Core:
    """With `page_table` (pd -> PageTable) core also plays the MMU's owner: each PD gets a
    pager, FAULT requests are served, and a detach unmaps the detached range."""

    def __init__(
        self,
        npds: int,
        page_bitmap: Callable[[int], PageBitmap],
        ram_quota: int,  # each PD's own (Genode: a RAM session a component)
        page_table: Callable[[int], PageTable] | None = None,
        report: Callable[[FaultReport], None] | None = None,
    ):
        self.ram = RamService(ram_quota)
        self.region_maps = [RegionMap(pd, page_bitmap(pd), self.ram) for pd in range(npds)]
        self.pagers: list[Pager] = []
        if page_table is not None:
            self.pagers = [
                Pager(pd, self.region_maps[pd], page_table(pd), report or _ignore)
                for pd in range(npds)
            ]

    def serve(self, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[Status, int]:
        """Answer one request of PD `pd` (the session's PD, never the caller's word); any
        argument, checked before anything is counted or changed, gets a status, never a raise."""
        if not 0 <= pd < len(self.region_maps):
            return Status.INVALID_PD, 0
        if not (0 <= a0 <= _U64 and 0 <= a1 <= _U64 and 0 <= a2 <= _U64):
            return Status.INVALID_ARGUMENT, 0
        if op == _RAM_ALLOC:  # plain ints: comparing with an IntEnum member costs more here
            return self.ram.alloc(pd, a0)
        if op == _ATTACH_AT:
            return self.region_maps[pd].attach_at(a0, a1, a2)
        if op == _FAULT:
            if not self.pagers or a1 not in _ACCESSES:
                return Status.INVALID_OP, 0
            return self.pagers[pd].fault(a0, a1, a2), 0
        if op == _DETACH:
            return self._detach(pd, a0), 0
        if op == _RAM_FREE:
            return self.ram.free(pd, a0), 0
        if op == _NULL:
            return Status.OK, 0
        return Status.INVALID_OP, 0

    def _detach(self, pd: int, offset: int) -> Status:
        rm = self.region_maps[pd]
        a = rm.attachments.get(offset)
        st = rm.detach(offset)
        if st == Status.OK and self.pagers:
            self.pagers[pd].unmap(a.offset, a.size)
        return st

    @staticmethod
    def key(op: int, a0: int, a1: int, a2: int) -> int:
        """What a trace keeps of a request besides op and status: the slot it touches."""
        if op == _ATTACH_AT:
            return slot_of_offset(a1)
        if op == _DETACH:
            return slot_of_offset(a0)
        return 0

    @staticmethod
    def describe(op: int, a0: int, a1: int, a2: int) -> dict[str, int | str]:
        """The fields of a core-log line for one request (integers, as the result document)."""
        name = op_name(op)
        if op == Op.ATTACH_AT:
            return {
                "op": name, "ds": a0, "slot": slot_of_offset(a1), "offset": a1,
                "address": AREA_BASE + a1, "size": a2,
            }  # fmt: skip
        if op == Op.DETACH:
            return {"op": name, "slot": slot_of_offset(a0), "offset": a0, "address": AREA_BASE + a0}
        if op == Op.FAULT:
            return {
                "op": name, "address": a0, "access": access_name(a1), "thread": a2,
                "slot": slot_of_offset(a0 - AREA_BASE), "region_map": region_map_of(a0),
            }  # fmt: skip
        if op == Op.RAM_ALLOC:
            return {"op": name, "size": a0}
        if op == Op.RAM_FREE:
            return {"op": name, "ds": a0}
        return {"op": name}


class Footprints:
    """Which parts of core's state each request of one schedule touched (explore's
    reduction, `Scenario.core_footprint`), from the requests and answers in order, so that
    requests on different slots or dataspaces commute. Keys: ("core", "ram", pd) a PD's
    quota, ("core", "ds-ids") the dataspace counter, ("core", "ds", ds) a dataspace,
    ("core", "rm", pd, offset) a region map's attachment at an offset, and the words of
    `pd{pd}.pages` (the page bitmap core reads to find a conflict). The same for the C core,
    which answers as this one does (tests/test_fastcore.py)."""

    def __init__(self) -> None:
        self.attached: dict[tuple[int, int], tuple[int, int]] = {}  # (pd, offset) -> ds, size

    def __call__(
        self, pd: int, op: int, a0: int, a1: int, a2: int, status: int, value: int
    ) -> frozenset[tuple] | None:
        if op == _NULL:
            return frozenset()
        if op == _RAM_ALLOC:
            return frozenset({("core", "ram", pd), ("core", "ds-ids"), ("core", "ds", value)})
        if op == _RAM_FREE:
            return frozenset({("core", "ram", pd), ("core", "ds", a0)})
        if op == _ATTACH_AT:
            if status == Status.OK:
                self.attached[(pd, a1)] = (a0, a2)
            return self._range(pd, a1, a2) | {("core", "ds", a0)}
        if op == _DETACH:
            ds_size = self.attached.pop((pd, a0), None)
            if status == Status.OK and ds_size is None:
                return None  # attached before the schedule's model saw it
            if ds_size is None:
                return self._range(pd, a0, 0)
            ds, size = ds_size
            return self._range(pd, a0, size) | {("core", "ds", ds)}
        return None  # FAULT (the pager walks page tables) and anything else: all of core

    @staticmethod
    def _range(pd: int, offset: int, size: int) -> frozenset[tuple]:
        """The attachment at `offset` and the page-bitmap words of [offset, offset+size)."""
        keys: set[tuple] = {("core", "rm", pd, offset)}
        if 0 <= offset < AREA_SIZE and size > 0:
            first = offset // PAGE_SIZE
            last = min(offset + size, AREA_SIZE) - 1
            keys.update(
                (f"pd{pd}.pages", w) for w in range(first // 64, last // PAGE_SIZE // 64 + 1)
            )
        return frozenset(keys)


def op_name(op: int) -> str:
    """An op by name; any other number (a client may send any word) as `opN`."""
    return Op(op).name.lower() if op in Op._value2member_map_ else f"op{op}"


def status_name(status: int) -> str:
    return Status(status).name.lower() if status in Status._value2member_map_ else str(status)


def _ignore(report: FaultReport) -> None:
    pass


_ACCESSES = (int(Perm.READ), int(Perm.WRITE), int(Perm.RW))
_STATUS = tuple(Status)  # Status(n) costs a microsecond; indexing does not
Call = Callable[[int, int, int, int], tuple[int, int]]  # (op, a0, a1, a2) -> (status, value)


class UnknownStatus(ValueError):
    """Core answered a status word that is no Status: its reply cannot be read."""


def _unknown(op: Op, st: int) -> UnknownStatus:
    """Named briefly: an actor's error message holds 255 bytes (harness/stats.py)."""
    first, last = _STATUS[0], _STATUS[-1]
    return UnknownStatus(
        f"core answered {op.name.lower()} with status {st} (0x{st:x}), no Status: expected "
        f"{int(first)}..{int(last)} ({int(first)} {first.name.lower()}, 1 "
        f"{_STATUS[1].name.lower()}, ..., {int(last)} {last.name.lower()}: "
        f"kernel_model/genode/status.py)"
    )


class CoreConnection:
    """A PD's session with core: each method is one request and its reply (a status that
    is no Status is an UnknownStatus naming it, never taken for another answer)."""

    __slots__ = ("_call",)

    def __init__(self, call: Call):
        self._call = call

    # each answer read by indexing (a call of a checking function costs 0.1 us a request)
    def ram_alloc(self, size: int) -> tuple[Status, int]:
        st, ds = self._call(Op.RAM_ALLOC, size, 0, 0)
        try:
            return _STATUS[st], ds
        except IndexError:
            raise _unknown(Op.RAM_ALLOC, st) from None

    def ram_free(self, ds: int) -> Status:
        st = self._call(Op.RAM_FREE, ds, 0, 0)[0]
        try:
            return _STATUS[st]
        except IndexError:
            raise _unknown(Op.RAM_FREE, st) from None

    def attach_at(self, ds: int, offset: int, size: int) -> tuple[Status, int]:
        st, addr = self._call(Op.ATTACH_AT, ds, offset, size)
        try:
            return _STATUS[st], addr
        except IndexError:
            raise _unknown(Op.ATTACH_AT, st) from None

    def detach(self, offset: int) -> Status:
        st = self._call(Op.DETACH, offset, 0, 0)[0]
        try:
            return _STATUS[st]
        except IndexError:
            raise _unknown(Op.DETACH, st) from None

    def fault(self, address: int, access: int, thread: int) -> Status:
        """A page fault for core's pager: OK means mapped, retry the access."""
        st = self._call(Op.FAULT, address, access, thread)[0]
        try:
            return _STATUS[st]
        except IndexError:
            raise _unknown(Op.FAULT, st) from None
