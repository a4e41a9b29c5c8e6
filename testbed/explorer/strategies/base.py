"""The exploration protocol: what the explorer asks of a strategy, what it gives one to be
built from, and the bookkeeping most strategies share.

A schedule is a sequence of choices: at each step, which enabled actor goes from its point
to its next one. Choosing another actor while the one that ran last could go on is a
preemption; switching away from an actor that ended or waits on a lock is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from testbed.explorer.reduction import Footprint


class NotDeterministic(RuntimeError):
    """Replaying a prefix of choices led elsewhere: the scenario depends on something the
    schedule does not fix (time, the OS's scheduler, state kept across iterations)."""


class Strategy(Protocol):
    """What the explorer asks: `begin` a schedule, `choose` each step (None: this schedule
    only repeats others, drop it), hear what the step did (`stepped`), and whether there is
    a `next` schedule. One object a whole exploration; every schedule runs from the initial
    state."""

    name: str
    complete: bool  # every schedule within the bound has been run (samplers: never)
    pruned: int  # choices skipped as equivalent to ones tried
    preemptions: int  # spent by the schedule so far

    def begin(self) -> None: ...

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        """The actor that takes step `depth`, one of `enabled` (sorted actor indices)."""
        ...

    def stepped(self, depth: int, actor: int, footprint: Footprint | None, reached: str) -> None:
        """Step `depth` ran `actor` to the point `reached`, touching `footprint` (None: not
        observed); NotDeterministic if a replayed step went elsewhere."""
        ...

    def next(self) -> bool:
        """Prepare the next schedule; False when there is none."""
        ...


@dataclass(frozen=True)
class Setup:
    """What the registry builds a strategy from (explore's options, checked)."""

    preemptions: int | None  # dfs: the bound (None: none); controlled pct: change points
    reduction: str  # dfs: sleep-sets, dpor or none
    seed: int  # the samplers' generator
    expected_steps: int  # the scenario's estimate of a schedule's steps


class StrategyBase:
    """Counts the preemptions of a schedule whose choices are not remembered (samplers);
    a subclass implements `choose` and records `enabled` in `_enabled`."""

    name = ""
    complete = False
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
