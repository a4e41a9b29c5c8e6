"""`--perturb auto`: a portfolio of strategies, so a user need not know which one finds the
bug. Each actor runs a sequence of phases; a phase is one setting of the catalogue for a
number of this actor's schedule points, both drawn from a generator seeded from --seed and
the actor's index: the same seed gives the same sequence, and actors differ from each other.

The catalogue is the registry's: each strategy registered before this one lends its
`portfolio` settings (none; yield rare and frequent; a short busy delay; OS-priority PCT of
depth 2 and 3), in registry order. After them come two phases only the portfolio runs: a
random priority (nice level) for the phase, and a stall, a 1 ms busy wait at rare points,
which is what a CPU hog does to the actor it preempts.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from testbed.harness.perturb.base import Hook, Perturb, PerturbStrategy, register
from testbed.harness.perturb.delay import DELAY
from testbed.harness.perturb.nice import NICE
from testbed.harness.perturb.registry import REGISTRY

PHASE_POINTS = (200, 5000)  # a phase lasts this many of the actor's points (uniform)


def _setting(strategy: PerturbStrategy, text: str) -> Perturb:
    _, _, rest = text.partition(":")
    perturb = strategy.parse(rest.split(":") if rest else [], text)
    assert perturb is not None, text
    return perturb


# (label, strategy, setting): the label is what the result document names
# (`auto_at_first_failure`), its index + 1 what an actor's STRATEGY stat word holds
_PHASES: tuple[tuple[str, PerturbStrategy, Perturb], ...] = (
    *((text, s, _setting(s, text)) for s in REGISTRY.values() for text in s.portfolio),
    ("nice", NICE, _setting(NICE, "nice")),
    ("stall:1000:0.002", DELAY, _setting(DELAY, "delay:1000:0.002")),
)
CATALOGUE = tuple(label for label, _, _ in _PHASES)


def phases(rng: random.Random) -> Iterator[tuple[int, int]]:
    """The phase sequence: (catalogue index, points it lasts), for ever."""
    while True:
        yield rng.randrange(len(CATALOGUE)), rng.randint(*PHASE_POINTS)


class Auto:
    """One actor's portfolio: `at_point(name, ticket)` runs the current phase's strategy;
    `current` is its index in CATALOGUE (the result document names the one active at the
    first failure)."""

    def __init__(self, rng: random.Random, expected_steps: int):
        # their own generators: the body's use of rng, and the strategies' draws, do not
        # move the phase sequence
        self.schedule = phases(random.Random(rng.random()))  # the phases ahead
        self.rng = random.Random(rng.random())
        self.expected_steps = expected_steps
        self.current = -1
        self.left = 0
        self._hook: Hook | None = None

    def _next_phase(self) -> None:
        if self.current >= 0:
            _PHASES[self.current][1].end()
        self.current, self.left = next(self.schedule)
        _, strategy, setting = _PHASES[self.current]
        self._hook = strategy.hook(setting, self.rng, self.expected_steps)

    def at_point(self, name: str, ticket: int) -> None:
        self.left -= 1
        if self.left <= 0:
            self._next_phase()
        if self._hook is not None:
            self._hook(name, ticket)


class AutoPortfolio:
    name = "auto"
    syntax = "auto"
    portfolio: tuple[str, ...] = ()  # not a phase of itself

    def parse(self, args: list[str], spec: str) -> Perturb | None:
        return Perturb("auto") if not args else None

    def text(self, perturb: Perturb) -> str:
        return "auto"

    def hook(self, perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
        return Auto(rng, expected_steps).at_point

    def end(self) -> None:
        pass  # each phase ends its own strategy; the last one lasts to the actor's end


AUTO = register(AutoPortfolio())
