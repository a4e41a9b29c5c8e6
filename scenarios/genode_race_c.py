"""Genode's 2010 stack-allocator race with the allocator in C (issue 21): the four variants of
kernel_model/genode/context_allocator.py and eight of its mutants (mutants.py), ported to
scenarios/genode_race_c.c over the same shared thread list and slot bitmap, the same locks,
points and core. Same options, outcomes and grades as genode-race and genode-mutants; the
quick fix's gap is the few instructions it is in C, not a few bytecodes.
"""

from __future__ import annotations

from typing import Any

from kernel_model.genode import layout
from kernel_model.genode.core import Op
from kernel_model.genode.status import Status
from testbed.scenario import Grade, Outcome
from testbed.scenarios.genode_mutants import GenodeMutants
from testbed.scenarios.genode_race import GenodeRace

# the mutants ported to C: windows from both of destroy's requests to core down to the two
# halves of a store (mutants.py's docstrings name each window)
MUTANTS = (
    "unlocked_remove",
    "check_then_lock",
    "torn_context",
    "list_free_early",
    "bit_unlocked",
    "bit_free_early",
    "bit_lost_release",
    "lock_inversion",
)
# what the C takes from the Python, defined once there (the actor's params)
CONSTANTS = {
    "area_base": layout.AREA_BASE,
    "slot_size": layout.SLOT_SIZE,
    "num_slots": layout.NUM_SLOTS,
    "page_size": layout.PAGE_SIZE,
    "context_record_size": layout.CONTEXT_RECORD_SIZE,
    "max_stack_size": layout.MAX_STACK_SIZE,
    **{f"op_{op.name.lower()}": int(op) for op in Op},
    "status_ok": int(Status.OK),
    "status_region_conflict": int(Status.REGION_CONFLICT),
}


def _outcomes() -> tuple[Outcome, ...]:
    """genode-race's outcomes and grades for its four variants, genode-mutants' for the
    mutants (an outcome only genode-mutants has, `deadlock`, is FORBIDDEN everywhere)."""
    race = {o.name: o for o in GenodeRace.outcomes}
    mutants = {o.name: o for o in GenodeMutants.outcomes}
    out = []
    for name, o in {**race, **mutants}.items():
        base = race.get(name)
        grades = dict(base.grades) if base else dict.fromkeys(GenodeRace.variants, Grade.FORBIDDEN)
        grades.update({m: mutants[name].grades[m] for m in MUTANTS})
        out.append(Outcome(name, (base or o).description, grades, failure=o.failure))
    return tuple(out)


class GenodeRaceC(GenodeRace):
    name = "genode-race-c"
    description = "Genode's stack-allocator race of 2010, its fixes and mutants, in C"
    variants = {**GenodeRace.variants, **{m: GenodeMutants.variants[m] for m in MUTANTS}}
    outcomes = _outcomes()
    native = "genode_race_c.c"
    examples = (
        "testbed stress genode-race-c --variant racy --duration 2",
        "testbed stress genode-race-c --variant quickfix --pin spread --max-failures 1",
        "testbed stress genode-race-c --variant fixed --pds 2 --creators 4 --rounds 2000",
        "testbed stress genode-race-c --variant unlocked_remove --perturb auto --duration 10",
        "testbed explore genode-race-c --variant racy --children 1",
    )
    showcase = ()

    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(name, {**params, **CONSTANTS}) for name, params in super().actors(config)]

    def run_actor(self, env, actor) -> None:
        for _ in env.rounds():
            env.native("genode_race_round")


SCENARIO = GenodeRaceC()
