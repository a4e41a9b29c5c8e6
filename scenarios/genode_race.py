"""Genode's 2010 stack-allocator race: threads of a PD create and destroy threads at once.

Actors: K creator threads per PD ("main" and "thread1", ... as in the report), each
creating M children a round and destroying them at the round's end. Core serves RAM
and region maps; a double attach of one slot is answered with Region_conflict.
"""

from __future__ import annotations

import argparse
from typing import Any

from kernel_model.genode import context_allocator, layout
from kernel_model.genode.context_allocator import POINTS
from kernel_model.genode.core import (
    Core,
    CoreConnection,
    Footprints,
    Op,
    op_name,
    status_name,
)
from kernel_model.genode.errors import StackAllocFailed
from kernel_model.genode.fastcore import FastCore
from kernel_model.genode.thread_list import ThreadList
from testbed.harness import points
from testbed.ipc.native import Bitmap
from testbed.scenario import ConfigError, Grade, Outcome, Scenario, in_range, parse_size

ACC, INT, FORB = Grade.ACCEPTABLE, Grade.INTERESTING, Grade.FORBIDDEN
RECORDS = 2 * layout.NUM_SLOTS  # thread records a PD can hold (failed creations included)
MAX_PDS, MAX_CREATORS, MAX_CHILDREN = 16, 32, 1024
CORES = ("c", "python")  # core's model: C (kernel_model/genode/fastcore.py) or the reference


class GenodeRace(Scenario):
    name = "genode-race"
    description = "Genode's thread-stack allocator race of 2010 (Region_conflict) and its fixes"
    variants = {
        "racy": "_threads_lock covers search and insert only; _context set after the IPCs",
        "quickfix": "the reporter's alloc_lock, released just before _context is set",
        "fixed": "alloc_lock held until _context is set",
        "bitalloc": "Genode 2014: slot bit reserved under the lock before any IPC",
    }
    outcomes = (
        Outcome("ok", "the thread got its stack", {v: ACC for v in variants}, failure=False),
        Outcome(
            "region_conflict",
            "two threads picked one slot; core refused the second attach (Stack_alloc_failed)",
            {"racy": INT, "quickfix": INT, "fixed": FORB, "bitalloc": FORB},
        ),
        Outcome(
            "out_of_stack_space",
            "no free slot: the allocator refused correctly",
            {v: ACC for v in variants},
        ),
        Outcome(
            "stack_too_large",
            "the stack does not fit its slot: refused correctly",
            {v: ACC for v in variants},
        ),
    )
    points = POINTS
    # the new thread is in the list, its `_context` not yet set: the race's window
    spans = (("list.insert", "context.assign", "_context unset"),)
    rate_name = "creations_per_s"
    examples = (
        "testbed stress genode-race --variant racy --duration 2",
        "testbed stress genode-race --variant quickfix --pin same --max-failures 1 --require region_conflict",
        "testbed stress genode-race --variant fixed --pds 2 --creators 4 --rounds 2000 --json result.json",
        "testbed stress genode-race --variant quickfix --pin spread --perturb pct:3 --hogs 2",
        "testbed stress genode-race --variant bitalloc --children 300 --rounds 3   # slot exhaustion",
    )
    # `testbed demo`: the report's race on a one-CPU board, and on this machine
    showcase = tuple(
        (v, pin, ()) for v in ("racy", "quickfix", "fixed", "bitalloc") for pin in ("same", "none")
    )

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--pds", type=int, default=1, help=f"protection domains (1..{MAX_PDS}; default 1)"
        )
        p.add_argument(
            "--creators",
            type=int,
            default=2,
            help=f"creator threads a PD (1..{MAX_CREATORS}; default 2: main and thread1)",
        )
        p.add_argument(
            "--children",
            type=int,
            default=4,
            help=f"threads each creator creates a round (1..{MAX_CHILDREN}; default 4); "
            f"more than the {layout.NUM_SLOTS} slots shows exhaustion",
        )
        p.add_argument(
            "--stack-size",
            default="16K",
            help=f"stack size, like 16K or 64K (1..{layout.SLOT_SIZE >> 10}K; above "
            f"{layout.MAX_STACK_SIZE} bytes the outcome is stack_too_large; default 16K)",
        )
        p.add_argument(
            "--iterate",
            action="store_true",
            help="run in iterations (as jcstress does): each creator's round is one iteration "
            "from fresh state (thread lists, bitmaps, core), the creators released together; "
            "a failure's trace is its iteration",
        )
        p.add_argument(
            "--core",
            default="c",
            help="core's model: c (the fast path, kernel_model/genode/_fastcore.c) or python "
            "(the readable reference, kernel_model/genode/core.py); same answers (default c)",
        )

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        if args.core not in CORES:
            raise ConfigError(f"--core {args.core!r}: expected one of {', '.join(CORES)}")
        return {
            "pds": in_range("--pds", args.pds, 1, MAX_PDS),
            "creators": in_range("--creators", args.creators, 1, MAX_CREATORS),
            "children": in_range("--children", args.children, 1, MAX_CHILDREN),
            "stack_size": parse_size(args.stack_size, "--stack-size", 1, layout.SLOT_SIZE),
            "core": args.core,
            **({"iterate": True} if args.iterate else {}),  # absent: traces from before
        }

    def iterates(self, config: dict[str, Any]) -> bool:
        return bool(config.get("iterate", False))

    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [
            (f"pd{pd}.{'main' if k == 0 else f'thread{k}'}", {"pd": pd})
            for pd in range(config["pds"])
            for k in range(config["creators"])
        ]

    def locks(self, config: dict[str, Any]) -> list[str]:
        return [f"pd{pd}.{lock}" for pd in range(config["pds"]) for lock in ("threads", "alloc")]

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        out = {}
        for pd in range(config["pds"]):
            out[f"pd{pd}.threads"] = ThreadList.words_needed(RECORDS)
            out[f"pd{pd}.slots"] = Bitmap.words(layout.NUM_SLOTS)
        return out

    def pd_owned(self, config: dict[str, Any]) -> dict[str, int]:
        # a PD's thread list, slot bitmap and locks are the PD's own memory (in Genode, its
        # address space): no other PD's thread reads, writes or takes them
        own = ("threads", "slots", "alloc")  # regions threads, slots; locks threads, alloc
        return {f"pd{pd}.{what}": pd for pd in range(config["pds"]) for what in own}

    def core_regions(self, config: dict[str, Any]) -> dict[str, int]:
        # each PD's page bitmap of its stack area: core's state (its region maps), which no
        # PD can read or write (in Genode, core's own memory)
        return {f"pd{pd}.pages": Bitmap.words(layout.AREA_PAGES) for pd in range(config["pds"])}

    def init_shared(self, seg, config: dict[str, Any]) -> None:
        for pd in range(config["pds"]):
            ThreadList(seg.words(f"pd{pd}.threads")).reset()

    def core(self, seg, config: dict[str, Any]) -> Core | FastCore:
        quota = layout.AREA_SIZE  # a PD's own
        if config.get("core", "c") == "c":  # traces written before the option: C, the default
            return FastCore(
                config["pds"], [seg.address(f"pd{pd}.pages") for pd in range(config["pds"])], quota
            )
        return Core(
            config["pds"],
            lambda pd: Bitmap(seg.address(f"pd{pd}.pages"), layout.AREA_PAGES),
            ram_quota=quota,
        )

    def core_footprint(self, config: dict[str, Any]) -> type[Footprints]:
        return Footprints  # a request touches its dataspace, its slots, its PD's quota

    def core_event(self, op: int, status: int, key: int) -> dict[str, Any]:
        event = {"op": op_name(op), "status": status_name(status)}
        if op in (Op.ATTACH_AT, Op.DETACH):
            event["slot"] = key
        return event

    def expected_steps(self, config: dict[str, Any]) -> int:
        # about 20 points a creation and its destruction, for every creator's round
        return 20 * config["pds"] * config["creators"] * config["children"]

    def allocator(self, env, pd: int, variants: dict[str, Any] | None = None) -> Any:
        """The PD's allocator of this run's variant, on the run's shared thread list,
        locks, core connection and slot bitmap."""
        threads = f"pd{pd}.threads"
        variants = variants or points.build(context_allocator).VARIANTS
        # the race is between one creator's `context.assign` and another's `search.slot`:
        # when recording, each is recorded by its own access (Env.recorded_store)
        return variants[env.config["variant"]](
            ThreadList(
                env.words(threads),
                assign_hook=env.recorded_store("context.assign", threads),
                find_hook=env.recorded_find("search.slot", threads, start=1),
            ),
            env.lock(f"pd{pd}.threads"),
            env.lock(f"pd{pd}.alloc"),
            CoreConnection(env.core_call(pd)),
            env.bitmap(f"pd{pd}.slots", layout.NUM_SLOTS),  # access: each call a point
            point=env.point,
        )

    def children(self, config: dict[str, Any], actor) -> int:
        """Threads this actor creates a round."""
        return config["children"]

    def run_actor(self, env, actor) -> None:
        pd, cfg = actor.params["pd"], env.config
        alloc = self.allocator(env, pd)
        for _ in env.rounds():
            stacks = []
            for _ in range(self.children(cfg, actor)):
                if env.stopping():
                    break
                try:
                    stacks.append(alloc.create(cfg["stack_size"]))
                    env.record("ok")
                except StackAllocFailed as e:
                    env.record(e.reason.value, at=e.point)
            env.rng.shuffle(stacks)  # threads end in any order, so slots recycle unevenly
            for stack in stacks:
                alloc.destroy(stack)


SCENARIO = GenodeRace()
