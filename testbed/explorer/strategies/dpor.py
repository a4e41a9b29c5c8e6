"""`--strategy dfs --preemptions none` (`--reduction dpor`): source-set DPOR with sleep sets,
the dfs of dfs.py trying only the choices a race asks for."""

from __future__ import annotations

from testbed.explorer.reduction import Footprint, independent
from testbed.explorer.strategies.base import Setup
from testbed.explorer.strategies.dfs import Dfs, Node


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
        node = Node(tuple(enabled), self.current, self.preemptions, self._new_sleep())
        awake = [a for a in node.candidates(self.bound) if a not in node.sleep]
        if not awake:
            self.sleep_blocked += 1
            self.pruned += len(enabled)
            return None
        node.tried.append(awake[0])
        node.backtrack = {awake[0]}
        self.stack.append(node)
        return awake[0]

    def _new_sleep(self) -> dict[int, Footprint]:
        """The sleep set a new node starts with (the bounded search keeps none)."""
        return self.sleep

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        super().stepped(depth, actor, footprint, reached)
        if footprint is None:
            raise ValueError("DPOR needs every step's footprint (the observer is off)")
        del self.events[depth:]
        self.events.append((actor, footprint))

    def next(self) -> bool:
        self._races()
        if self._backtrack(self.floor):
            return True
        self.complete = True
        return False

    def _backtrack(self, floor: int) -> bool:
        """Move to the deepest node above `floor` with an actor in its backtrack set (within
        the bound) not yet tried nor asleep; False when no node has one."""
        while len(self.stack) > floor:
            node = self.stack[-1]
            if left := node.backtrack_left(self.bound):
                node.tried.append(left[0])
                return True
            self.pruned += len(node.candidates(self.bound)) - len(node.tried)
            self.stack.pop()
        return False

    def _races(self) -> None:
        """Every race of the schedule just run: the node before its first step gets an
        actor that reverses it, unless one it has (or will try) already does."""
        events = self.events
        hb: list[int] = []  # per step, the bitset of the steps that happen before it
        last: dict[int, int] = {}
        acquired: dict[object, int] = {}  # lock -> the step that last took it
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
            for key in f.writes:  # two takes of a lock race, though a release orders them
                if key[0] == "acq":
                    i = acquired.get(key[1])
                    if i is not None and events[i][0] != a:
                        self._reverse(i, j, hb)
                    acquired[key[1]] = j

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

    @classmethod
    def build(cls, setup: Setup) -> Dpor:
        return cls()
