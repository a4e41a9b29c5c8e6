"""`--strategy dfs`: every schedule with at most K preemptions (CHESS's preemption bounding,
Musuvathi and Qadeer 2007), pruning with sleep sets. The search is stateless (as in CHESS and
Loom): each schedule runs from the initial state, replaying its prefix of choices, then goes
on with the first choice that costs no preemption. Unless `--reduction sleep-sets` or
`none` is asked for, the registry builds a subclass instead: `Dpor` (dpor.py) with no
bound, `BoundedDpor` (bounded_dpor.py) with one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from testbed.explorer.reduction import Footprint, independent
from testbed.explorer.strategies.base import NotDeterministic, Setup, StrategyBase


@dataclass
class Node:
    """The state before one step of the current schedule, and the choices tried there."""

    enabled: tuple[int, ...]
    current: int | None  # the actor that took the previous step
    preemptions: int  # spent before this step
    sleep: dict[int, Footprint]  # actors whose next step commutes with all since: skip them
    tried: list[int] = field(default_factory=list)  # the last one is this schedule's choice
    footprints: dict[int, Footprint | None] = field(default_factory=dict)
    reached: dict[int, str] = field(default_factory=dict)  # where each tried step ended
    backtrack: set[int] = field(default_factory=set)  # DPOR: the actors this node must try

    def cost(self, actor: int) -> int:
        return int(
            self.current is not None and actor != self.current and self.current in self.enabled
        )

    def candidates(self, bound: int | None) -> list[int]:
        """Within the bound (None: no bound): the current actor first (no preemption), then
        by index."""
        order = sorted(self.enabled, key=lambda a: (a != self.current, a))
        return [a for a in order if bound is None or self.preemptions + self.cost(a) <= bound]

    def untried(self, bound: int | None) -> list[int]:
        """The candidates no schedule has taken here yet, nor asleep, in the order dfs
        takes them."""
        return [a for a in self.candidates(bound) if a not in self.tried and a not in self.sleep]

    def backtrack_left(self, bound: int | None) -> list[int]:
        """DPOR's untried: the actors of the backtrack set, within the bound, not tried here
        yet nor asleep."""
        within = set(self.candidates(bound))
        return sorted((self.backtrack & within) - set(self.tried) - set(self.sleep))


class Dfs(StrategyBase):
    """The stateless depth-first search: `stack` holds the current schedule's nodes; `bound`
    caps its preemptions (None: none); `reduce` prunes with sleep sets."""

    name = "dfs"

    def __init__(self, bound: int | None, reduce: bool):
        super().__init__()
        self.bound, self.reduce = bound, reduce
        self.stack: list[Node] = []
        self.floor = 0  # nodes at the bottom of the stack that are never branched
        self.sleep: dict[int, Footprint] = {}
        self.sleep_blocked = 0

    def begin(self) -> None:
        super().begin()
        self.sleep = {}

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        if depth < len(self.stack):
            node = self.stack[depth]
            if node.enabled != tuple(enabled):
                raise NotDeterministic(
                    f"step {depth}: actors {list(enabled)} could go, the first time "
                    f"{list(node.enabled)}"
                )
            return node.tried[-1]
        node = self._node(enabled)
        within = node.candidates(self.bound)
        awake = [a for a in within if a not in node.sleep]
        self.pruned += len(within) - len(awake)
        if not awake:
            self.sleep_blocked += 1
            return None
        node.tried.append(awake[0])
        self.stack.append(node)
        return awake[0]

    def _node(self, enabled: list[int]) -> Node:
        """The node a new step of the schedule starts from."""
        return Node(tuple(enabled), self.current, self.preemptions, self.sleep)

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        node = self.stack[depth]
        if node.reached.setdefault(actor, reached) != reached:
            raise NotDeterministic(
                f"step {depth}: actor {actor} reached {reached!r}, the first time "
                f"{node.reached[actor]!r}"
            )
        node.footprints[actor] = footprint
        if self.reduce and footprint is not None:
            before = dict(node.sleep)
            before.update((t, node.footprints[t]) for t in node.tried[:-1])
            self.sleep = {
                u: f
                for u, f in before.items()
                if u != actor and f is not None and independent(f, footprint)
            }
        self.preemptions = node.preemptions + node.cost(actor)
        self.current = actor

    def next(self) -> bool:
        if self._backtrack(self.floor):
            return True
        self.complete = True
        return False

    def _backtrack(self, floor: int) -> bool:
        """Backtrack to the deepest step above `floor` with a choice not tried yet, and take
        it; False when none is left."""
        while len(self.stack) > floor:
            node = self.stack[-1]
            if choices := node.untried(self.bound):
                node.tried.append(choices[0])
                return True
            self.stack.pop()
        return False

    @classmethod
    def build(cls, setup: Setup) -> Dfs:
        return cls(setup.preemptions, setup.reduction == "sleep-sets")
