"""`--perturb auto`: a portfolio of strategies, so a user need not know which one finds the
bug. Each actor runs a sequence of phases; a phase is one strategy of the catalogue for a
number of this actor's schedule points, both drawn from a generator seeded from --seed and
the actor's index: the same seed gives the same sequence, and actors differ from each other.

The catalogue: none; yield (rare, frequent); a short busy delay; PCT (depth 2, 3); a random
priority (nice level) for the phase; and a stall, a 1 ms busy wait at rare points, which
is what a CPU hog does to the actor it preempts.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator

CATALOGUE = (
    "none",
    "yield:0.05",
    "yield:0.5",
    "delay:20:0.05",
    "pct:2",
    "pct:3",
    "nice",
    "stall:1000:0.002",
)
PHASE_POINTS = (200, 5000)  # a phase lasts this many of the actor's points (uniform)


def _nice(value: int) -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, 0, value)
    except OSError:
        pass  # lowering nice needs privilege: the phase keeps the nicer level


def _normal() -> None:
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    _nice(0)


def phases(rng: random.Random) -> Iterator[tuple[int, int]]:
    """The phase sequence: (catalogue index, points it lasts), for ever."""
    while True:
        yield rng.randrange(len(CATALOGUE)), rng.randint(*PHASE_POINTS)


class Auto:
    """`at_point(name, ticket)` runs the current phase's strategy; `current` is its index
    in CATALOGUE (the result document names the one active at the first failure)."""

    def __init__(self, rng: random.Random, expected_steps: int):
        from testbed.harness import perturb  # (perturb imports this module)

        self._perturb = perturb
        # their own generators: the body's use of rng, and the strategies' draws, do not
        # move the phase sequence
        self._phases = phases(random.Random(rng.random()))
        self.rng = random.Random(rng.random())
        self.expected_steps = expected_steps
        self.current = -1
        self.left = 0
        self._hook: Callable[[str, int], None] | None = None

    def _next_phase(self) -> None:
        if self.current >= 0 and CATALOGUE[self.current] in ("nice", "pct:2", "pct:3"):
            _normal()
        self.current, self.left = next(self._phases)
        strategy, rng = CATALOGUE[self.current], self.rng
        self._hook = None
        if strategy == "nice":
            _nice(rng.randrange(0, 20))
        elif strategy.startswith("stall:"):
            _, us, p = strategy.split(":")
            self._hook = self._perturb.hook(
                self._perturb.parse(f"delay:{us}:{p}"), rng, self.expected_steps
            )
        elif strategy != "none":
            self._hook = self._perturb.hook(self._perturb.parse(strategy), rng, self.expected_steps)

    def at_point(self, name: str, ticket: int) -> None:
        self.left -= 1
        if self.left <= 0:
            self._next_phase()
        if self._hook is not None:
            self._hook(name, ticket)
