"""`--reduction dpor --preemptions K`: source-set DPOR under a preemption bound, with the
conservative backtracking of bounded partial-order reduction (Coons, Musuvathi and
McKinley, OOPSLA 2013), deepened one preemption at a time as CHESS does.

Under a bound, reversing a race at the node before its first step may cost a preemption
the bound forbids, and the reversed order may be reachable only by switching earlier, at
the start of the block of steps the first one belongs to (where its actor was switched
to). So each race adds the reversing actor at both nodes, where the bound allows. Each
round (K = 0, 1, ...) is a DPOR of its own from the root, and the first failure found is one
of the fewest preemptions. A round runs again schedules an earlier round ran (it needs their
steps' footprints to find its races): such a schedule is a `repeat`, counted apart from
`schedules` (the explorer neither judges it again nor spends `--max-schedules` on it). Where
sleep sets alone run an exponential number of sleep-blocked schedules (reorder_10: 10 actors
that all commute), DPOR runs about one a class. The default of `testbed explore` with a
bound (sleep sets under a bound lose schedules: reorder_10 at named points was "complete"
with its failure never run).
"""

from __future__ import annotations

from testbed.explorer.strategies.base import NotDeterministic, Setup
from testbed.explorer.strategies.dpor import Dpor


class BoundedDpor(Dpor):
    """Dpor at bound `bound`, for rounds 0..`limit`."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.bound = limit, 0
        # every schedule of the earlier rounds, and this round's: its choices -> the points
        # its steps reached (a repeat that reaches others is not deterministic)
        self.ran: dict[tuple[int, ...], tuple[str, ...]] = {}
        self.round: dict[tuple[int, ...], tuple[str, ...]] = {}

    def _choices(self) -> tuple[int, ...]:
        return tuple(n.tried[-1] for n in self.stack)

    @property
    def repeat(self) -> bool:
        """The schedule just run is one an earlier round ran (asked before `next`);
        NotDeterministic if its steps went elsewhere this time."""
        before = self.ran.get(self._choices()) if self.ran else None
        if before is None:
            return False
        now = self._reached()
        for depth, (a, b) in enumerate(zip(before, now, strict=True)):
            if a != b:
                raise NotDeterministic(
                    f"step {depth}: actor {self.stack[depth].tried[-1]} reached {b!r}, "
                    f"an earlier round {a!r}"
                )
        return True

    def _reached(self) -> tuple[str, ...]:
        return tuple(n.reached.get(n.tried[-1], "") for n in self.stack)

    def _new_sleep(self) -> dict:
        return {}  # no sleep sets: with them a bounded search misses (Coons et al.)

    def next(self) -> bool:
        self.round[self._choices()] = self._reached()
        self._races()
        if self._backtrack(self.floor):
            return True
        if self.bound >= self.limit:
            self.complete = True
            return False
        self.bound += 1  # the next round, from the root
        self.ran.update(self.round)
        self.round = {}
        self.sleep, self.events = {}, []
        return True

    def _reverse(self, i: int, j: int, hb: list[int]) -> None:
        """DPOR's source set at node i, and, where the bound allows, the racing actor
        itself at node i and at the start of the block step i belongs to (the node where
        its actor was switched to): there the reversal may cost no preemption."""
        super()._reverse(i, j, hb)
        racer = self.events[j][0]
        block = i
        while block > 0 and self.events[block - 1][0] == self.events[i][0]:
            block -= 1
        for k in {i, block}:
            node = self.stack[k]
            if racer in node.candidates(self.bound):
                node.backtrack.add(racer)

    @classmethod
    def build(cls, setup: Setup) -> BoundedDpor:
        return cls(setup.preemptions or 0)
