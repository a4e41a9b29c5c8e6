"""Genode's stack growth and its limits: a thread grows its stack downward inside its slot in
page-aligned steps, at most 4 mappings; a fifth, or growth past the slot, is Stack_too_large.

Per PD, T threads (thread k in slot k + 1) create their stacks, then each grows its own by
`--step` until refused, running frames over the whole grown stack through the MMU after
every step (each new page faults once and core's pager maps it). The `unlimited` variant
drops both checks, to show what they prevent: growth into the slot below.
"""

from __future__ import annotations

import argparse
from typing import Any

from kernel_model.genode import layout
from kernel_model.genode.errors import Reason, StackAllocFailed
from kernel_model.genode.mmu import UnresolvableFault
from kernel_model.genode.stack import ManagedArea, context_pattern, fits, push_frames
from testbed.ipc.barrier import Barrier
from testbed.scenario import ConfigError, Grade, Outcome, parse_size

from ._mmu import (
    MAX_PDS,
    MAX_THREADS,
    ThreadsOnStacks,
    check_frame_size,
    thread_mmu,
)

ACC, INT, FORB = Grade.ACCEPTABLE, Grade.INTERESTING, Grade.FORBIDDEN


class StackGrowth(ThreadsOnStacks):
    name = "stack-growth"
    description = "Genode's stack growth: page-aligned steps in the slot, at most 4 mappings"
    variants = {
        "genode": "growth refused (Stack_too_large) at a fifth mapping or below the slot",
        "unlimited": "no mapping limit and no slot check: growth runs into the slot below",
    }
    outcomes = (
        Outcome("grown", "the stack grew by one step", {v: ACC for v in variants}, failure=False),
        Outcome(
            "stack_too_large",
            "growth refused: a fifth mapping, or below the slot",
            {v: ACC for v in variants},
            failure=False,
        ),
        Outcome(
            "past_slot",
            "a growth step was attached below the slot: the stack reaches into the slot below",
            {"genode": FORB, "unlimited": INT},
        ),
        Outcome(
            "region_conflict",
            "a growth step collided with the stack of the thread below (core refused it)",
            {"genode": FORB, "unlimited": INT},
        ),
        Outcome(
            "fault",
            "an access to the grown stack took an unresolvable fault",
            {v: FORB for v in variants},
        ),
    )
    rate_name = "growth_steps_per_s"
    examples = (
        "testbed stress stack-growth --variant genode --step 64K --rounds 2",
        "testbed stress stack-growth --variant unlimited --step 512K --rounds 2",
    )

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument("--pds", type=int, default=1, help=f"protection domains (1..{MAX_PDS})")
        p.add_argument(
            "--threads", type=int, default=2, help=f"threads a PD (1..{MAX_THREADS}; default 2)"
        )
        p.add_argument(
            "--stack-size",
            default="16K",
            help=f"initial stack size (1..{layout.MAX_STACK_SIZE} bytes; default 16K)",
        )
        p.add_argument(
            "--step",
            default="64K",
            help=f"bytes a growth step adds (page-aligned, {layout.PAGE_SIZE}.."
            f"{layout.SLOT_SIZE}; default 64K)",
        )
        p.add_argument("--frame-size", default="4K", help="bytes a frame (16..64K; default 4K)")

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        for opt, value, hi in (
            ("--pds", args.pds, MAX_PDS),
            ("--threads", args.threads, MAX_THREADS),
        ):
            if not 1 <= value <= hi:
                raise ConfigError(f"{opt} {value}: expected 1..{hi}")
        stack = parse_size(args.stack_size, "--stack-size", 1, layout.MAX_STACK_SIZE)
        step = parse_size(args.step, "--step", layout.PAGE_SIZE, layout.SLOT_SIZE)
        if step % layout.PAGE_SIZE:
            raise ConfigError(
                f"--step {args.step}: {step} bytes, expected a multiple of {layout.PAGE_SIZE} "
                f"in {layout.PAGE_SIZE}..{layout.SLOT_SIZE} bytes"
            )
        return {
            "pds": args.pds, "threads": args.threads, "stack_size": stack, "step": step,
            "frame_size": check_frame_size(args.frame_size),
        }  # fmt: skip

    def run_actor(self, env, actor) -> None:
        cfg = env.config
        pd, k, frame = actor.params["pd"], actor.params["thread"], cfg["frame_size"]
        mmu, core = thread_mmu(env, pd, k)
        area = ManagedArea(core, limits=cfg["variant"] == "genode")
        barrier = Barrier(env, env.address(f"pd{pd}.sync"), cfg["threads"])
        for r in env.rounds():
            tag = (r << 16) | (pd << 8) | (k + 1)
            stack = area.create(k + 1, cfg["stack_size"])
            try:
                mmu.write(stack.top, context_pattern(tag))
                if not barrier.wait():  # every stack of the PD exists: the slots below are taken
                    return
                while not env.stopping():
                    try:
                        area.grow(stack, stack.size + cfg["step"])
                    except StackAllocFailed as e:
                        env.record(e.reason.value)
                        break
                    if stack.base < stack.slot_base:
                        env.record("past_slot")  # unlimited only; stop before the area's end
                        break
                    try:
                        push_frames(mmu, stack.top, fits(stack.size, frame), frame, tag)
                    except UnresolvableFault:
                        env.record("fault")
                        break
                    env.record("grown")
                if not barrier.wait():  # no stack goes away while a neighbour still grows
                    return
            finally:
                area.destroy(stack)


assert Reason.STACK_TOO_LARGE.value == "stack_too_large"  # outcome names = Reason values
assert Reason.REGION_CONFLICT.value == "region_conflict"
SCENARIO = StackGrowth()
