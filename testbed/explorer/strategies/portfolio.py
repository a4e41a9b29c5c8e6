"""`--strategy auto`: a seeded portfolio of the samplers, as `--perturb auto` is for stress:
schedule i runs under sampler i mod 4 (random, pct, pos, rff), each with a seed of its own
drawn from `--seed`, each keeping its own state (pct its window, rff its corpus) from one of
its turns to the next. No one sampler is best on every program (Yuan et al. 2018; Meng et
al. 2024): a bug that needs a deep priority inversion falls to pct, a rare reads-from to
rff, a partial order that random's skew hides to pos.
"""

from __future__ import annotations

import random
from dataclasses import replace

from testbed.explorer.reduction import Footprint
from testbed.explorer.strategies.base import Setup, Strategy
from testbed.explorer.strategies.controlled_pct import ControlledPct
from testbed.explorer.strategies.pos import Pos
from testbed.explorer.strategies.random_walk import RandomWalk
from testbed.explorer.strategies.rff import Rff

MEMBERS = (RandomWalk, ControlledPct, Pos, Rff)


class Auto:
    """Round robin over MEMBERS, one schedule each."""

    name = "auto"
    complete = False

    def __init__(self, setup: Setup):
        rng = random.Random(setup.seed)
        pct_changes = 2 if setup.preemptions is None else setup.preemptions
        self.members: list[Strategy] = [
            m.build(replace(setup, seed=rng.randrange(2**32), preemptions=pct_changes))
            for m in MEMBERS
        ]
        self.turn = 0

    @property
    def now(self) -> Strategy:
        return self.members[self.turn]

    @property
    def pruned(self) -> int:
        return 0

    @property
    def preemptions(self) -> int:
        return self.now.preemptions

    def observe(self, reads: list[frozenset[tuple] | None]) -> None:
        for m in self.members:
            if hasattr(m, "observe"):
                m.observe(reads)

    def begin(self) -> None:
        self.now.begin()

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        return self.now.choose(depth, enabled)

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        self.now.stepped(depth, actor, footprint, reached)

    def next(self) -> bool:
        self.now.next()
        self.turn = (self.turn + 1) % len(self.members)
        return True

    @classmethod
    def build(cls, setup: Setup) -> Auto:
        return cls(setup)
