"""`--strategy pct`: the controlled PCT sampler (Burckhardt, Kothari, Musuvathi and
Nagarakatte, ASPLOS 2010). The controlled scheduler runs one actor at a time, so PCT's bound
holds: with n actors, k steps and d - 1 change points, a bug of depth d is found in a
schedule with probability at least 1/(n k^(d-1)). Not the perturbation `--perturb pct:D`
(testbed/harness/perturb/os_pct.py), which only moves the OS's priorities and keeps no bound.
"""

from __future__ import annotations

import random

from testbed.explorer.reduction import Footprint
from testbed.explorer.strategies.base import Setup, StrategyBase


class ControlledPct(StrategyBase):
    """PCT with `changes` (d - 1) priority change points: the highest-priority enabled actor
    runs; at the i-th change point the actor about to run drops below every other."""

    name = "pct"

    def __init__(self, seed: int, changes: int, steps_estimate: int):
        super().__init__()
        self.rng, self.changes = random.Random(seed), changes
        self.k = max(2, steps_estimate)  # steps a schedule takes: the longest seen so far

    def begin(self) -> None:
        super().begin()
        self.priority: dict[int, int] = {}
        points = self.rng.sample(range(1, self.k), min(self.changes, self.k - 1))
        self.change_at = {step: i for i, step in enumerate(sorted(points))}

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        self._enabled = enabled
        for a in enabled:  # a random priority above every change point's, on first sight
            if a not in self.priority:
                self.priority[a] = self.changes + self.rng.random()
        actor = max(enabled, key=self.priority.__getitem__)
        if depth in self.change_at:
            self.priority[actor] = self.changes - 1 - self.change_at[depth]
            actor = max(enabled, key=self.priority.__getitem__)
        return actor

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        super().stepped(depth, actor, footprint, reached)
        self.k = max(self.k, depth + 1)

    @classmethod
    def build(cls, setup: Setup) -> ControlledPct:
        return cls(setup.seed, setup.preemptions or 0, setup.expected_steps)
