"""`--strategy rff`: reads-from coverage-guided sampling, after RFF (Meng et al., ASPLOS
2024) and SURW (in Fray). Coverage is the set of (writer, reader) pairs seen: a step that
touches a word after another actor's step last wrote it pairs the two steps, each named by
its actor, the point it started from and how many steps that actor had taken. A schedule
that adds a pair joins the corpus; each next schedule replays a random prefix of a corpus
schedule (its choices, as far as they are enabled) and goes on with partial order sampling
(pos.py), so the search stays near the orders that showed new communication.
"""

from __future__ import annotations

from testbed.explorer.reduction import Footprint
from testbed.explorer.strategies.base import Setup
from testbed.explorer.strategies.pos import Pos

Event = tuple[int, int]  # (actor, its step number)


class Rff(Pos):
    """POS, steered by a corpus of schedules that showed new reads-from pairs."""

    name = "rff"

    def __init__(self, seed: int):
        super().__init__(seed)
        self.seen: set[tuple[Event, Event]] = set()  # reads-from (and write-write) pairs
        self.corpus: list[list[int]] = []  # choices of the schedules that added pairs
        self.guide: list[int] = []

    def begin(self) -> None:
        super().begin()
        self.choices: list[int] = []
        self.writer: dict[tuple, Event] = {}  # word -> the step that last wrote it
        self.count: dict[int, int] = {}
        self.new = False
        self.guide = []
        if self.corpus and self.rng.random() < 0.8:  # now and then a fresh POS schedule
            parent = self.rng.choice(self.corpus)
            self.guide = parent[: self.rng.randrange(len(parent) + 1)]

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        if depth < len(self.guide) and self.guide[depth] in enabled:
            self._enabled = enabled
            return self.guide[depth]
        return super().choose(depth, enabled)

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        super().stepped(depth, actor, footprint, reached)
        self.choices.append(actor)
        me = (actor, self.count.get(actor, 0))
        self.count[actor] = me[1] + 1
        if footprint is None:
            return
        for word in (footprint.reads or frozenset()) | footprint.writes:
            w = self.writer.get(word)
            if w is not None and w[0] != actor and (w, me) not in self.seen:
                self.seen.add((w, me))
                self.new = True
        for word in footprint.writes:
            self.writer[word] = me

    def next(self) -> bool:
        if self.new:
            self.corpus.append(self.choices)
        return True

    @classmethod
    def build(cls, setup: Setup) -> Rff:
        return cls(setup.seed)
