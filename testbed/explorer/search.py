"""The order in which schedules are tried: `dfs` walks every schedule with at most K
preemptions (CHESS's preemption bounding, Musuvathi and Qadeer 2007), pruning with sleep
sets, or, with no bound, every class of equivalent schedules with source-set DPOR (`Dpor`,
Abdulla et al., POPL 2014); `random` and `pct` sample (PCT: Burckhardt et al., ASPLOS 2010).

A schedule is a sequence of choices: at each step, which enabled actor goes from its point
to its next one. Choosing another actor while the one that ran last could go on is a
preemption; switching away from an actor that ended or waits on a lock is free. The dfs is
stateless (as in CHESS and Loom): each schedule runs from the initial state, replaying its
prefix of choices, then goes on with the first choice that costs no preemption.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from testbed.explorer.reduction import Footprint, independent
from testbed.harness.options import EXPLORE_STRATEGIES

STRATEGIES = EXPLORE_STRATEGIES  # declared with the options (testbed/harness/options.py)


class NotDeterministic(RuntimeError):
    """Replaying a prefix of choices led elsewhere: the scenario depends on something the
    schedule does not fix (time, the OS's scheduler, state kept across iterations)."""


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


class Strategy:
    """What the explorer asks: `begin` a schedule, `choose` each step (None: this schedule
    only repeats others, drop it), hear what the step did, and whether there is a `next`."""

    name = ""
    complete = False  # every schedule within the bound has been run
    pruned = 0

    def __init__(self) -> None:
        self.current: int | None = None
        self.preemptions = 0
        self._enabled: list[int] = []

    def begin(self) -> None:
        self.current, self.preemptions = None, 0

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        raise NotImplementedError

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        enabled = self._enabled
        if self.current is not None and actor != self.current and self.current in enabled:
            self.preemptions += 1
        self.current = actor

    def next(self) -> bool:
        return True


class Dfs(Strategy):
    name = "dfs"

    def __init__(self, bound: int | None, reduce: bool):
        super().__init__()
        self.bound, self.reduce = bound, reduce
        self.stack: list[Node] = []
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
        node = Node(tuple(enabled), self.current, self.preemptions, self.sleep)
        within = node.candidates(self.bound)
        awake = [a for a in within if a not in node.sleep]
        self.pruned += len(within) - len(awake)
        if not awake:
            self.sleep_blocked += 1
            return None
        node.tried.append(awake[0])
        self.stack.append(node)
        return awake[0]

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
        """Backtrack to the deepest step with a choice not tried yet."""
        while self.stack:
            node = self.stack[-1]
            for a in node.candidates(self.bound):
                if a not in node.tried and a not in node.sleep:
                    node.tried.append(a)
                    return True
            self.stack.pop()
        self.complete = True
        return False


class RandomWalk(Strategy):
    """Each step, a uniformly random enabled actor (no bound)."""

    name = "random"

    def __init__(self, seed: int):
        super().__init__()
        self.rng = random.Random(seed)

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        self._enabled = enabled
        return self.rng.choice(enabled)


class Pct(Strategy):
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


class Dpor(Dfs):
    """Source-set DPOR with sleep sets (Abdulla, Aronis, Jonsson and Sagonas, POPL 2014),
    for the search with no preemption bound: a node tries only the actors put in its
    backtrack set, one to start with, and one more for each race found in a schedule run
    through it, so the search runs about one schedule per class of schedules that only
    reorder commuting steps (Mazurkiewicz traces), where sleep sets alone run many.

    The races are found once a schedule has run, from its steps' footprints: steps i < j of
    two actors race when they do not commute and nothing run between them orders them
    (i happens before j only through their own conflict). To reverse a race, the node
    before step i must try an actor that can start v: the steps after i that do not
    happen after it, then j. `pruned` counts the actors a node could have tried and never
    did (asleep, or no race asked for them)."""

    def __init__(self) -> None:
        super().__init__(None, True)
        self.events: list[tuple[int, Footprint]] = []  # this schedule's steps

    def begin(self) -> None:
        super().begin()
        self.events = []

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        if depth < len(self.stack):
            return super().choose(depth, enabled)  # the prefix: the same choices again
        node = Node(tuple(enabled), self.current, self.preemptions, self.sleep)
        awake = [a for a in node.candidates(None) if a not in node.sleep]
        if not awake:
            self.sleep_blocked += 1
            self.pruned += len(enabled)
            return None
        node.tried.append(awake[0])
        node.backtrack = {awake[0]}
        self.stack.append(node)
        return awake[0]

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        super().stepped(depth, actor, footprint, reached)
        if footprint is None:
            raise ValueError("DPOR needs every step's footprint (the observer is off)")
        del self.events[depth:]
        self.events.append((actor, footprint))

    def next(self) -> bool:
        self._races()
        while self.stack:
            node = self.stack[-1]
            left = sorted(node.backtrack - set(node.tried) - set(node.sleep))
            if left:
                node.tried.append(left[0])
                return True
            self.pruned += len(node.enabled) - len(node.tried)
            self.stack.pop()
        self.complete = True
        return False

    def _races(self) -> None:
        """Every race of the schedule just run: the node before its first step gets an
        actor that reverses it, unless one it has (or will try) already does."""
        events = self.events
        hb: list[int] = []  # per step, the bitset of the steps that happen before it
        last: dict[int, int] = {}
        for j, (a, f) in enumerate(events):
            before = hb[last[a]] | 1 << last[a] if a in last else 0
            conflicts = [
                i for i in range(j) if events[i][0] != a and not independent(events[i][1], f)
            ]
            for i in conflicts:
                before |= hb[i] | 1 << i
            hb.append(before)
            last[a] = j
            for i in conflicts:
                if not any(hb[k] >> i & 1 for k in range(i + 1, j) if before >> k & 1):
                    self._reverse(i, j, hb)

    def _reverse(self, i: int, j: int, hb: list[int]) -> None:
        node = self.stack[i]
        v = [k for k in range(i + 1, j) if not hb[k] >> i & 1] + [j]
        initials, seen = [], set()
        for pos, k in enumerate(v):
            a = self.events[k][0]
            if a not in seen:
                seen.add(a)
                if not any(hb[k] >> m & 1 for m in v[:pos]):
                    initials.append(a)
        if node.backtrack & set(initials):
            return
        can = [a for a in initials if a in node.enabled]
        awake = [a for a in can if a not in node.sleep]
        if awake or can:
            node.backtrack.add((awake or can)[0])
        else:  # none of them can go here (cannot happen with sound footprints): try all
            node.backtrack.update(node.enabled)
