"""`--strategy random`: each step, a uniformly random enabled actor (no bound)."""

from __future__ import annotations

import random

from testbed.explorer.strategies.base import Setup, StrategyBase


class RandomWalk(StrategyBase):
    """Each step, a uniformly random enabled actor (no bound)."""

    name = "random"

    def __init__(self, seed: int):
        super().__init__()
        self.rng = random.Random(seed)

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        self._enabled = enabled
        return self.rng.choice(enabled)

    @classmethod
    def build(cls, setup: Setup) -> RandomWalk:
        return cls(setup.seed)
