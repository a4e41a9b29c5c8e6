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

from kernel_model.genode import layout
from kernel_model.genode.mmu import UnresolvableFault
from kernel_model.genode.stack import (
    AREAS,
    context_pattern,
    fits,
    frames_intact,
    push_frames,
)
from testbed.ipc.barrier import Barrier
from testbed.scenario import ConfigError, Grade, Outcome, parse_size

from ._mmu import (
    FRAME_ALIGN,
    MAX_FRAME,
    MAX_PDS,
    MAX_THREADS,
    MIN_FRAME,
    ThreadsOnStacks,
    check_frame_size,
    thread_mmu,
)

ACC, INT, FORB = Grade.ACCEPTABLE, Grade.INTERESTING, Grade.FORBIDDEN


# -- the scenario ------------------------------------------------------------------------------
class StackOverflow(ThreadsOnStacks):
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
    # `testbed demo`: does the overflow run silently over the neighbour, or fault?
    showcase = (("flat", "none", ()), ("managed", "none", ()))

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

    def run_actor(self, env, actor) -> None:
        cfg = env.config
        pd, k, threads = actor.params["pd"], actor.params["thread"], cfg["threads"]
        frame, slot = cfg["frame_size"], k + 1
        overflows = k == threads - 1
        depth = cfg["depth"] if overflows else min(cfg["depth"], fits(cfg["stack_size"], frame))
        mmu, core = thread_mmu(env, pd, k)
        area = AREAS[cfg["variant"]](core)
        barrier = Barrier(env, env.address(f"pd{pd}.sync"), threads)
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
