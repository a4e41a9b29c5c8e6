"""The mutant catalogue: broken variants of Genode's context allocator (kernel_model/genode/
mutants.py), each a few lines apart from a correct one, with windows from both requests to
core down to one C call, and the two correct allocators beside them. Every bug's outcome is
FORBIDDEN: these are bugs to kill (bench/kill_rate.py measures how fast each is).

Same actors, locks, regions and core as genode-race; one more outcome, `deadlock`, for the
lock-order inversion: named from the actors' side, with the actors and locks of the cycle.
"""

from __future__ import annotations

import argparse
from typing import Any

from kernel_model.genode import layout, mutants
from testbed.scenario import Grade, Outcome, in_range
from testbed.scenarios.genode_race import MAX_CHILDREN, GenodeRace

ACC, FORB = Grade.ACCEPTABLE, Grade.FORBIDDEN
ALLOCATORS = {**mutants.MUTANTS, **mutants.CORRECT}


def _first_line(cls: type) -> str:
    return " ".join((cls.__doc__ or cls.__name__).split())


class GenodeMutants(GenodeRace):
    name = "genode-mutants"
    description = "broken Genode stack allocators to kill, each a few lines from a correct one"
    variants = {name: _first_line(cls) for name, cls in ALLOCATORS.items()}
    outcomes = (
        Outcome("ok", "the thread got its stack", {v: ACC for v in variants}, failure=False),
        Outcome(
            "region_conflict",
            "two threads picked one slot; core refused the second attach (Stack_alloc_failed)",
            {v: FORB for v in variants},
        ),
        Outcome(
            "out_of_stack_space",
            "no free slot: the allocator refused",
            {v: ACC for v in variants},
        ),
        Outcome(
            "stack_too_large",
            "the stack does not fit its slot: refused correctly",
            {v: ACC for v in variants},
        ),
        Outcome(
            "deadlock",
            "actors wait for each other's locks in a cycle (named in the result's `deadlock`)",
            {v: FORB for v in variants},
        ),
    )
    examples = (
        "testbed stress genode-mutants --variant unlocked_remove --perturb auto --duration 10",
        "testbed stress genode-mutants --variant unlocked_remove --points access --pin same",
        "testbed stress genode-mutants --variant lock_inversion --max-failures 1",
        "testbed stress genode-mutants --variant bitalloc --duration 5   # a correct one: passes",
    )
    showcase = ()

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        super().add_arguments(p)
        p.add_argument(
            "--main-children",
            type=int,
            default=0,
            help=f"threads each PD's main thread creates a round (1..{MAX_CHILDREN}; default "
            "0: as --children); an uneven history for explore: unlocked_insert needs one "
            "creator that holds one stack and another that creates three",
        )

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        config = super().configure(args)
        if args.main_children:  # traces and configs without it: as --children
            config["main_children"] = in_range(
                "--main-children", args.main_children, 1, MAX_CHILDREN
            )
        return config

    def children(self, config: dict[str, Any], actor) -> int:
        if actor.name.endswith(".main") and config.get("main_children"):
            return config["main_children"]
        return config["children"]

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        out = super().regions(config)
        for pd in range(config["pds"]):
            out[f"pd{pd}.free"] = 1 + layout.NUM_SLOTS  # aba_free_stack's free slots
        return out

    def pd_owned(self, config: dict[str, Any]) -> dict[str, int]:
        return {**super().pd_owned(config), **{f"pd{pd}.free": pd for pd in range(config["pds"])}}

    def init_shared(self, seg, config: dict[str, Any]) -> None:
        super().init_shared(seg, config)
        for pd in range(config["pds"]):
            mutants.AbaFreeStack.fill(seg.words(f"pd{pd}.free"))

    def allocator(self, env, pd: int, variants: dict[str, Any] | None = None) -> Any:
        alloc = super().allocator(env, pd, ALLOCATORS)
        alloc.slot_words = env.words(f"pd{pd}.slots")
        alloc.free_words = env.words(f"pd{pd}.free")
        alloc.cas = env.atomic(f"pd{pd}.free", 0).cas  # the free stack's head
        return alloc


SCENARIO = GenodeMutants()
