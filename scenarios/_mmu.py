"""MMU wiring shared by the scenarios whose threads run on stacks (stack-overflow,
stack-growth, page-fault): regions, core with a pager a PD, a thread's MMU, fault reports.

A module whose name starts with "_" is not a scenario (testbed/registry.py)."""

from __future__ import annotations

from typing import Any

from kernel_model.genode import layout
from kernel_model.genode.core import Core, CoreConnection, Op, op_name, status_name
from kernel_model.genode.mmu import Mmu
from kernel_model.genode.pager import FaultReport, access_name, region_map_of
from kernel_model.genode.stack import FlatArea
from kernel_model.genode.status import Status
from kernel_model.page_table import PageTable
from testbed.ipc.native import Bitmap, PageBytes
from testbed.scenario import ConfigError, Scenario, parse_size

MAX_PDS, MAX_THREADS = 4, 8
MIN_FRAME, MAX_FRAME, FRAME_ALIGN = 16, 64 << 10, 16
MAX_REPORTS = 32  # fault reports kept in full; the counts go on
REPORT_WORDS = 4  # pd, thread, address, access
RESOLVED, UNRESOLVABLE, REPORTS = 0, 1, 2
MAX_COUNT = (1 << 64) - 1  # what a shared word holds


def mmu_regions(npds: int, window_slots: int) -> dict[str, int]:
    """Per PD: page table (a byte a page: the actors' MMU reads it), stack memory of the
    first `window_slots` slots, barrier word; and the fault reports core writes."""
    out = {"faults": REPORTS + REPORT_WORDS * MAX_REPORTS}
    for pd in range(npds):
        out[f"pd{pd}.pt"] = layout.AREA_PAGES // 8
        out[f"pd{pd}.mem"] = window_slots * layout.SLOT_SIZE // 8
        out[f"pd{pd}.sync"] = 8
    return out


def mmu_owned(npds: int) -> dict[str, int]:
    """Each PD's page table, stack memory and barrier are its own: no other PD maps them."""
    return {f"pd{pd}.{what}": pd for pd in range(npds) for what in ("pt", "mem", "sync")}


def mmu_read_only(npds: int) -> list[str]:
    """Each PD's page table: core writes it, the PD's MMU only reads it (as hardware does)."""
    return [f"pd{pd}.pt" for pd in range(npds)]


def mmu_core_regions(npds: int) -> dict[str, int]:
    """Core's own: each PD's region-map page bitmap (no actor reads or writes it)."""
    return {f"pd{pd}.pages": Bitmap.words(layout.AREA_PAGES) for pd in range(npds)}


class MmuCore(Core):
    """Core with a pager and page table a PD, counting faults into the segment."""

    def __init__(self, seg, npds: int, flat: bool):
        self.words = seg.words("faults")
        # the counts are core's own: the shared words are written from them, never read
        # back (an actor can write them: a count at 2**64 - 1 must not crash core)
        self.resolved = self.unresolvable = 0
        super().__init__(
            npds,
            lambda pd: Bitmap(seg.address(f"pd{pd}.pages"), layout.AREA_PAGES),
            ram_quota=2 * layout.AREA_SIZE,  # a PD's own
            page_table=lambda pd: page_table(seg, pd),
            report=self._report,
        )
        if flat:  # each PD's environment attaches the whole area once, before threads run
            for pd in range(npds):
                FlatArea.attach_whole_area(
                    CoreConnection(lambda op, a0, a1, a2, pd=pd: self.serve(op, pd, a0, a1, a2))
                )

    def serve(self, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[Status, int]:
        st, value = super().serve(op, pd, a0, a1, a2)
        if op == _FAULT and st == Status.OK:
            self.resolved = min(self.resolved + 1, MAX_COUNT)
            self.words[RESOLVED] = self.resolved
        return st, value

    def _report(self, r: FaultReport) -> None:
        w, n = self.words, self.unresolvable
        if n < MAX_REPORTS:
            i = REPORTS + REPORT_WORDS * n
            w[i], w[i + 1], w[i + 2], w[i + 3] = r.pd, r.thread, r.address, int(r.access)
        self.unresolvable = min(n + 1, MAX_COUNT)
        w[UNRESOLVABLE] = self.unresolvable


_FAULT = int(Op.FAULT)


def page_table(seg, pd: int) -> PageTable:
    return PageTable(
        PageBytes(seg.address(f"pd{pd}.pt"), layout.AREA_PAGES), layout.AREA_BASE, layout.AREA_PAGES
    )


def thread_mmu(env, pd: int, thread: int) -> tuple[Mmu, CoreConnection]:
    core = CoreConnection(env.core_call(pd))
    mmu = Mmu(
        page_table(env, pd),
        env.words(f"pd{pd}.mem").cast("B"),
        layout.AREA_BASE,
        lambda address, access: core.fault(address, access, thread),
    )
    return mmu, core


def fault_extra(seg, thread_name) -> dict[str, Any]:
    """The result document's `faults`: counts, and the first reports in full."""
    w = seg.words("faults")
    reports = []
    for k in range(min(w[UNRESOLVABLE], MAX_REPORTS)):
        pd, thread, address, access = w[REPORTS + REPORT_WORDS * k :][:REPORT_WORDS]
        reports.append(
            {
                "pd": pd,
                "thread": thread,
                "thread_name": thread_name(pd, thread),
                "address": address,
                "access": access_name(access),
                "region_map": region_map_of(address),
                "slot": (address - layout.AREA_BASE) // layout.SLOT_SIZE,
            }  # fmt: skip
        )
    return {
        "faults": {"resolved": w[RESOLVED], "unresolvable": w[UNRESOLVABLE], "reports": reports}
    }


def check_frame_size(text: str) -> int:
    size = parse_size(text, "--frame-size", MIN_FRAME, MAX_FRAME)
    if size % FRAME_ALIGN:
        raise ConfigError(
            f"--frame-size {text}: {size} bytes, expected a multiple of {FRAME_ALIGN} in "
            f"{MIN_FRAME}..{MAX_FRAME} bytes"
        )
    return size


def thread_name(pd: int, thread: int) -> str:
    return f"pd{pd}.thread{thread}"


class ThreadsOnStacks(Scenario):
    """`--threads` threads in each of `--pds` PDs, thread k's stack in slot k + 1, with a
    pager-backed MMU; the result document gets the fault reports."""

    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (thread_name(pd, k), {"pd": pd, "thread": k})
            for pd in range(config["pds"])
            for k in range(config["threads"])
        ]

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        return mmu_regions(config["pds"], config["threads"] + 1)

    def pd_owned(self, config: dict[str, Any]) -> dict[str, int]:
        return mmu_owned(config["pds"])

    def read_only(self, config: dict[str, Any]) -> list[str]:
        return mmu_read_only(config["pds"])

    def core_regions(self, config: dict[str, Any]) -> dict[str, int]:
        return mmu_core_regions(config["pds"])

    def core(self, seg, config: dict[str, Any]) -> Core:
        return MmuCore(seg, config["pds"], flat=config["variant"] == "flat")

    def result_extra(self, seg, config: dict[str, Any]) -> dict[str, Any]:
        return fault_extra(seg, thread_name)

    def core_event(self, op: int, status: int, key: int) -> dict[str, Any]:
        return core_event(op, status)


def core_event(op: int, status: int) -> dict[str, Any]:
    """A request core served, by name (traces and `show`)."""
    return {"op": op_name(op), "status": status_name(status)}
