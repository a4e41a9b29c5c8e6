"""`--strategy pos`: partial order sampling (Yuan, Yang and Gu, CAV 2018). Every pending
step of an actor has a random priority, the highest-priority enabled one runs, and a step
that runs gives a fresh priority to the step that follows it and to every pending step it
races with. A schedule's probability then depends on its partial order rather than on how
many interleavings share it, which a uniform random walk skews towards the long classes.

Which pending steps race with the one that ran is judged from what is known before they
run: a step parked at an access point reads exactly its words (reduction.reads_at); one at
a named point may touch anything, so any step that wrote something races with it.
"""

from __future__ import annotations

import random

from testbed.explorer.reduction import Footprint
from testbed.explorer.strategies.base import Setup, StrategyBase


class Pos(StrategyBase):
    """POS over the actors' pending steps; `pending` (set by the explorer through
    `observe`) says where each actor is parked, hence what its next step reads."""

    name = "pos"

    def __init__(self, seed: int):
        super().__init__()
        self.rng = random.Random(seed)
        self.pending: list[frozenset[tuple] | None] = []  # reads of each actor's next step

    def observe(self, reads: list[frozenset[tuple] | None]) -> None:
        """The explorer's list of each actor's next step's reads (None: unknown), kept
        current as actors move."""
        self.pending = reads

    def begin(self) -> None:
        super().begin()
        self.priority: dict[int, float] = {}

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        self._enabled = enabled
        for a in enabled:
            if a not in self.priority:
                self.priority[a] = self.rng.random()
        return max(enabled, key=self.priority.__getitem__)

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        super().stepped(depth, actor, footprint, reached)
        self.priority.pop(actor, None)  # its next step is a new one
        if footprint is None or not footprint.writes:
            return
        for other in list(self.priority):
            reads = self.pending[other] if other < len(self.pending) else None
            if reads is None or reads & footprint.writes:
                self.priority[other] = self.rng.random()

    @classmethod
    def build(cls, setup: Setup) -> Pos:
        return cls(setup.seed)
