"""Stack overflow under the two designs of the stack area: does core see it, or does the
overflow run silently over the neighbour's stack and Context record? (report, 2010)

Per PD, T threads: thread k has its stack in slot k + 1 (slot 0 is the main thread's). The
top thread overflows: it pushes `--depth` frames; the others push what fits their stacks,
wait until the overflow is over, then check their frames and Context records. Every access
goes through the MMU (the PD's page table, checked by the thread's own process); stack
memory is real shared memory, one region a PD backing slots 0..T of its area.
"""

from __future__ import annotations

import argparse
from typing import Any

from kernel_model import layout
from kernel_model.core import Core, CoreConnection, Op
from kernel_model.mmu import Mmu, UnresolvableFault
from kernel_model.page_table import PageTable
from kernel_model.pager import FaultReport, access_name, region_map_of
from kernel_model.stack import (
    AREAS,
    FlatArea,
    context_pattern,
    fits,
    frames_intact,
    push_frames,
)
from kernel_model.status import Status
from testbed.barrier import Barrier
from testbed.native import Bitmap, PageBytes
from testbed.scenario import ConfigError, Grade, Outcome, Scenario
from testbed.sizes import parse_size

ACC, INT, FORB = Grade.ACCEPTABLE, Grade.INTERESTING, Grade.FORBIDDEN
MAX_PDS, MAX_THREADS = 4, 8
MIN_FRAME, MAX_FRAME, FRAME_ALIGN = 16, 64 << 10, 16

# -- MMU wiring shared by the scenarios that run threads on stacks -----------------------------
MAX_REPORTS = 32  # fault reports kept in full; the counts go on
REPORT_WORDS = 4  # pd, thread, address, access
RESOLVED, UNRESOLVABLE, REPORTS = 0, 1, 2


def mmu_regions(npds: int, window_slots: int) -> dict[str, int]:
    """Per PD: region-map page bitmap, page table (a byte a page), stack memory of the
    first `window_slots` slots, barrier word; and the fault reports core writes."""
    out = {"faults": REPORTS + REPORT_WORDS * MAX_REPORTS}
    for pd in range(npds):
        out[f"pd{pd}.pages"] = Bitmap.words(layout.AREA_PAGES)
        out[f"pd{pd}.pt"] = layout.AREA_PAGES // 8
        out[f"pd{pd}.mem"] = window_slots * layout.SLOT_SIZE // 8
        out[f"pd{pd}.sync"] = 8
    return out


class MmuCore(Core):
    """Core with a pager and page table a PD, counting faults into the segment."""

    def __init__(self, seg, npds: int, flat: bool):
        self.words = seg.words("faults")
        super().__init__(
            npds,
            lambda pd: Bitmap(seg.addr(f"pd{pd}.pages"), layout.AREA_PAGES),
            ram_quota=2 * npds * layout.AREA_SIZE,
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
            self.words[RESOLVED] += 1
        return st, value

    def _report(self, r: FaultReport) -> None:
        w, n = self.words, self.words[UNRESOLVABLE]
        if n < MAX_REPORTS:
            i = REPORTS + REPORT_WORDS * n
            w[i], w[i + 1], w[i + 2], w[i + 3] = r.pd, r.thread, r.address, int(r.access)
        w[UNRESOLVABLE] = n + 1


_FAULT = int(Op.FAULT)


def page_table(seg, pd: int) -> PageTable:
    return PageTable(
        PageBytes(seg.addr(f"pd{pd}.pt"), layout.AREA_PAGES), layout.AREA_BASE, layout.AREA_PAGES
    )


def thread_mmu(env, pd: int, thread: int) -> tuple[Mmu, CoreConnection]:
    core = CoreConnection(env.core_call(pd))
    mmu = Mmu(
        page_table(env.seg, pd),
        env.seg.bytes(f"pd{pd}.mem"),
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


# -- the scenario ------------------------------------------------------------------------------
class StackOverflow(Scenario):
    name = "stack-overflow"
    description = (
        "a thread overflows its stack: caught by core's pager, or silent over its neighbour"
    )
    variants = {
        "flat": "the whole 256 MiB area is one attachment: the pager backs every fault in it",
        "managed": "the area is a sub region map with only the stacks attached (Genode)",
    }
    outcomes = (
        Outcome(
            "ok",
            "the thread's workload stayed within its stack, and its stack was left alone",
            {v: ACC for v in variants},
            failure=False,
        ),
        Outcome(
            "overflow_detected",
            "the overflow faulted below the stack; core reported it and stopped the thread",
            {v: ACC for v in variants},
            failure=False,
        ),
        Outcome(
            "overflow_silent",
            "the overflow went past the stack bottom and the pager backed it: nobody noticed",
            {"flat": INT, "managed": FORB},
        ),
        Outcome(
            "neighbour_corrupted",
            "a thread found its Context record or stack frames overwritten by another's",
            {"flat": INT, "managed": FORB},
        ),
    )
    rate_name = "thread_runs_per_s"
    examples = (
        "testbed stress stack-overflow --variant flat --rounds 3 --require neighbour_corrupted",
        "testbed stress stack-overflow --variant managed --rounds 3 --pds 2 --core-log core.jsonl --json -",
    )

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--pds", type=int, default=1, help=f"protection domains (1..{MAX_PDS})")
        p.add_argument(
            "--threads",
            type=int,
            default=2,
            help=f"threads a PD (1..{MAX_THREADS}; default 2); the top one overflows",
        )
        p.add_argument(
            "--stack-size",
            default="16K",
            help=f"stack size (1..{layout.MAX_STACK_SIZE} bytes, what fits a slot; default 16K)",
        )
        p.add_argument(
            "--frame-size",
            default="4K",
            help=f"bytes a frame ({MIN_FRAME}..{MAX_FRAME}, a multiple of {FRAME_ALIGN}; "
            "default 4K)",
        )
        p.add_argument(
            "--depth",
            type=int,
            default=300,
            help="frames the overflowing thread pushes (default 300: 1.2 MB at 4K frames, "
            "past its slot into the neighbour's); the range depends on the frame size and threads",
        )

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        for opt, value, hi in (
            ("--pds", args.pds, MAX_PDS),
            ("--threads", args.threads, MAX_THREADS),
        ):
            if not 1 <= value <= hi:
                raise ConfigError(f"{opt} {value}: expected 1..{hi}")
        stack = parse_size(args.stack_size, "--stack-size", 1, layout.MAX_STACK_SIZE)
        frame = check_frame_size(args.frame_size)
        # the overflowing thread (slot T) must stay inside the backed slots 0..T of the area
        reach = (args.threads + 1) * layout.SLOT_SIZE - layout.CONTEXT_RECORD_SIZE
        max_depth = reach // frame
        if not 1 <= args.depth <= max_depth:
            raise ConfigError(
                f"--depth {args.depth}: expected 1..{max_depth} ({frame}-byte frames from the "
                f"top of slot {args.threads} must stay inside the stack area)"
            )
        return {
            "pds": args.pds, "threads": args.threads, "stack_size": stack,
            "frame_size": frame, "depth": args.depth,
        }  # fmt: skip

    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (thread_name(pd, k), {"pd": pd, "thread": k})
            for pd in range(config["pds"])
            for k in range(config["threads"])
        ]

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        return mmu_regions(config["pds"], config["threads"] + 1)

    def core(self, seg, config: dict[str, Any]) -> Core:
        return MmuCore(seg, config["pds"], flat=config["variant"] == "flat")

    def result_extra(self, seg, config: dict[str, Any]) -> dict[str, Any]:
        return fault_extra(seg, thread_name)

    def run_actor(self, env, actor) -> None:
        cfg = env.spec.config
        pd, k, threads = actor.params["pd"], actor.params["thread"], cfg["threads"]
        frame, slot = cfg["frame_size"], k + 1
        overflows = k == threads - 1
        depth = cfg["depth"] if overflows else min(cfg["depth"], fits(cfg["stack_size"], frame))
        mmu, core = thread_mmu(env, pd, k)
        area = AREAS[cfg["variant"]](core)
        barrier = Barrier(env, env.seg.addr(f"pd{pd}.sync"), threads)
        for r in env.rounds():
            tag = (r << 16) | (pd << 8) | slot
            stack = area.create(slot, cfg["stack_size"])
            try:
                mmu.write(stack.top, context_pattern(tag))  # thread creation writes its Context
                if not barrier.wait():  # every Context of the PD is written
                    return
                try:
                    wrong = push_frames(mmu, stack.top, depth, frame, tag)
                    outcome = "ok"
                    if stack.top - depth * frame < stack.base:
                        outcome = "overflow_silent"
                except UnresolvableFault:
                    wrong, outcome = 0, "overflow_detected"  # core stopped this thread
                if not barrier.wait():  # the overflow is over
                    return
                if not overflows or outcome == "ok":
                    intact = mmu.same(stack.top, context_pattern(tag)) and frames_intact(
                        mmu, stack.top, depth, frame, tag
                    )
                    if wrong or not intact:
                        outcome = "neighbour_corrupted"
                env.record(outcome)
            finally:
                area.destroy(stack)


SCENARIO = StackOverflow()
