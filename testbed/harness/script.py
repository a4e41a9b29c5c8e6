"""A script of steps forced on a controlled run (replay, minimize, and tests that force an
interleaving): "let actor A run until it reaches point P", on the one-actor-at-a-time
Scheduler. An optional step lets the script move on if its actor blocks or finishes
first. After the script, every actor runs free, or (a replay) they finish one at a time.
"""

from __future__ import annotations

import sys

from testbed.harness.scheduler import FINISHED, PARKED, ScheduleError, Scheduler
from testbed.ipc import control
from testbed.trace import access_points
from testbed.trace.step import FINISH, Step

MAX_POINTS_A_STEP = 100_000  # an actor looping forever past a point it never reaches


class Script:
    """Follows a list of steps: the runner orders the points, the script says how."""

    def __init__(self, scheduler: Scheduler):
        self.s = scheduler
        self.spec = scheduler.spec
        self.index = {name: i for i, name in enumerate(scheduler.names)}
        self.unseen: set[int] = set()  # actors parked at their first point, not yet asked for it

    def check(self, steps: list[Step]) -> None:
        for s in steps:
            if s.actor not in self.index:
                raise ScheduleError(f"no actor {s.actor!r}; actors: {', '.join(self.index)}")
            if s.point != FINISH and not access_points.known(self.spec.points, s.point):
                raise ScheduleError(f"no schedule point {s.point!r} in {self.spec.scenario}")

    def start(self) -> None:
        self.s.launch()
        self.unseen = set(range(self.s.n))

    def drive(self, steps: list[Step]) -> None:
        """Force `steps`, then let every actor run free."""
        self.check(steps)
        self.start()
        for step in steps:
            self.run_until(step)
        self.s.release_all()

    def replay(self, steps: list[Step], first: str = "") -> None:
        """Force `steps`, then stop the run and let the actors finish one at a time, `first`
        first: after the last recorded event nothing is left to chance either.

        A step runs its actor until it is at the step's point (already there: nothing to
        do); a step that `passes` then lets it through the point once, so the step of code
        after the point runs in the trace's order, and the actor parks at its next point."""
        self.check(steps)
        self.start()
        s = self.s
        for step in steps:
            i = self.index[step.actor]
            if step.fresh or not (s.state[i] == PARKED and s.at[i] == step.point):
                if not self.run_until(step):
                    continue  # an optional step that blocked or ended
            if step.passes:
                self.unseen.discard(i)
                s.step(i)
        s.ctl[control.STOP] = 1
        for name in sorted(self.index, key=lambda name: (name != first, self.index[name])):
            self.run_until(Step(name, FINISH))

    def run_until(self, step: Step) -> bool:
        """Let one actor run until it parks at `step.point`; False if an optional step
        blocked or finished first.

        An actor that finds a lock taken parks as blocked; then the other actors advance one
        point each and it tries again, until it gets the lock (the actor has priority, the
        others run only when it cannot). If none of them can move, it is a deadlock. An
        optional step gives up instead."""
        s, i = self.s, self.index[step.actor]
        if s.state[i] == FINISHED:
            if step.point == FINISH:
                return True
            raise ScheduleError(f"{step.actor} has finished; it cannot reach {step.point!r}")
        if i in self.unseen and s.state[i] == PARKED and s.at[i] == step.point:
            self.unseen.discard(i)  # its first arrival, seen by start(), is this step's
            return True
        self.unseen.discard(i)
        for _ in range(MAX_POINTS_A_STEP if step.point != FINISH else sys.maxsize):
            reached = s.step(i)
            if reached == step.point:
                return True
            if reached == "":
                if step.optional:
                    return False
                if not self._advance_others(i):
                    lock = self.spec.locks[s.lock[i]] if self.spec.locks else "a lock"
                    raise ScheduleError(
                        f"deadlock: {step.actor} is blocked on {lock} after {s.where(i)}, on "
                        f"its way to {step.point!r}, and no other actor can move"
                    )
            elif reached == FINISH:
                if step.optional:
                    return False
                raise ScheduleError(f"{step.actor} finished before it reached {step.point!r}")
        raise ScheduleError(
            f"{step.actor} passed {MAX_POINTS_A_STEP} points without reaching {step.point!r}"
        )

    def _advance_others(self, i: int) -> bool:
        """One step of each other unfinished actor, in index order; did any move (reach a
        point or its end, rather than find its lock still taken)?"""
        moved = False
        for j in range(self.s.n):
            if j != i and self.s.state[j] != FINISHED:
                self.unseen.discard(j)
                moved |= self.s.step(j) != ""
        return moved
