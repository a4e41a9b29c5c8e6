"""`--strategy dfs --preemptions K` (the default): iterative preemption bounding, as CHESS
does it (Musuvathi and Qadeer, PLDI 2007): every schedule with no preemption first, then
those with exactly one, then two, up to K, so the first failure found is one of the fewest
preemptions, and a bug one preemption deep is not queued behind every reordering of the
last choices that the depth-first order tries first.

Each schedule is still run once: the search at bound k notes each place where a preemption
was refused (the schedule's prefix up to there, and the actor it would have run), and the
search at k + 1 starts from those places only, a stateless work list. Sleep sets carry
over: the actors a refused node tried (and the refused ones already started from it) sleep
in the branch started there, as long as they commute with its steps; the caveat of sleep
sets under a bound (Coons, Musuvathi and McKinley 2013) stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from testbed.explorer.strategies.base import Setup
from testbed.explorer.strategies.dfs import Dfs, Node

Prefix = list[tuple[tuple[int, ...], int | None, int, int]]  # enabled, current, preemptions, choice


@dataclass
class Start:
    """A preemption refused at bound k: where the search at k + 1 begins a branch."""

    prefix: Prefix  # the steps before the node, replayed as they were
    node: Node  # the node (its `tried` and footprints complete once its round ends)
    actor: int  # the actor whose step costs the preemption


class IterativeDfs(Dfs):
    """The dfs of dfs.py at bounds 0, 1, ..., `limit`; `floor` nodes at the bottom of the
    stack are the current start's, replayed, never branched."""

    def __init__(self, limit: int, reduce: bool):
        super().__init__(0, reduce)
        self.limit = limit
        self.frontier: list[Start] = []  # refused at this bound: the next bound's starts
        self.starts: list[Start] = []  # this bound's starts, left to run
        self.started: Start | None = None

    def _node(self, enabled: list[int]) -> Node:
        node = super()._node(enabled)
        if self.bound is not None and self.bound < self.limit:
            within = set(node.candidates(self.bound))
            over = [a for a in node.candidates(self.bound + 1) if a not in within]
            self.pruned += sum(a in node.sleep for a in over)
            if over := [a for a in over if a not in node.sleep]:
                prefix = [(n.enabled, n.current, n.preemptions, n.tried[-1]) for n in self.stack]
                self.frontier.extend(Start(prefix, node, a) for a in over)
        return node

    def next(self) -> bool:
        if self._backtrack(self.floor):
            return True
        self._finish_start()
        while not self.starts:
            if self.bound is None or self.bound >= self.limit or not self.frontier:
                self.complete = True
                return False
            self.bound += 1
            self.starts, self.frontier = self.frontier, []
        self._start(self.starts.pop(0))
        return True

    def _finish_start(self) -> None:
        """The branch of a start is done: its actor sleeps in the node's next starts."""
        if self.started is not None:
            old, copy = self.started.node, self.stack_floor
            old.tried.append(self.started.actor)
            old.footprints[self.started.actor] = copy.footprints.get(self.started.actor)
            self.started = None

    def _start(self, start: Start) -> None:
        self.stack = [Node(e, c, p, {}, [choice]) for e, c, p, choice in start.prefix]
        old = start.node
        sleep = dict(old.sleep)
        if self.reduce:
            sleep.update((t, f) for t in old.tried if (f := old.footprints.get(t)) is not None)
        self.stack_floor = Node(old.enabled, old.current, old.preemptions, sleep, [start.actor])
        self.stack.append(self.stack_floor)
        self.floor = len(self.stack)
        self.started = start

    @classmethod
    def build(cls, setup: Setup) -> IterativeDfs:
        return cls(setup.preemptions or 0, setup.reduction == "sleep-sets")
