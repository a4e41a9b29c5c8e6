"""`--reduction dpor --preemptions K`: source-set DPOR under a preemption bound, with the
conservative backtracking of bounded partial-order reduction (Coons, Musuvathi and
McKinley, OOPSLA 2013), deepened one preemption at a time as CHESS does.

Under a bound, reversing a race at the node before its first step may cost a preemption
the bound forbids, and the reversed order may be reachable only by switching earlier, at
the start of the block of steps the first one belongs to (where its actor was switched
to). So each race adds the reversing actor at both nodes, where the bound allows. Each
round (K = 0, 1, ...) is a DPOR of its own from the root; a round repeats the schedules of
the rounds before it (`schedules` counts them all), and the first failure found is one of
the fewest preemptions. Where sleep sets alone run an exponential number of sleep-blocked
schedules (reorder_10: 10 actors that all commute), DPOR runs about one a class.
"""

from __future__ import annotations

from testbed.explorer.strategies.base import Setup
from testbed.explorer.strategies.dfs import Node
from testbed.explorer.strategies.dpor import Dpor


class BoundedDpor(Dpor):
    """Dpor at bound `bound`, for rounds 0..`limit`."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.bound = limit, 0

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        if depth < len(self.stack):
            return super().choose(depth, enabled)
        node = Node(tuple(enabled), self.current, self.preemptions, {})  # no sleep sets
        awake = [a for a in node.candidates(self.bound) if a not in node.sleep]
        if not awake:
            self.sleep_blocked += 1
            self.pruned += len(enabled)
            return None
        node.tried.append(awake[0])
        node.backtrack = {awake[0]}
        self.stack.append(node)
        return awake[0]

    def next(self) -> bool:
        self._races()
        while self.stack:
            node = self.stack[-1]
            within = set(node.candidates(self.bound))
            left = sorted((node.backtrack & within) - set(node.tried) - set(node.sleep))
            if left:
                node.tried.append(left[0])
                return True
            self.pruned += len(within) - len(node.tried)
            self.stack.pop()
        if self.bound >= self.limit:
            self.complete = True
            return False
        self.bound += 1  # the next round, from the root
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
