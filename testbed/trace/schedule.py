"""Forcing an interleaving at named schedule points, with real processes and real locks.

In a controlled run each actor stops at every schedule point and waits for the runner's
go, so only one actor runs at a time. A script is a list of steps "let actor A run until
it reaches point P". An actor that finds a lock taken parks as blocked (the lock is the
run's real semaphore, tried without waiting), so the runner never guesses from a timeout
and nothing runs at the same time. An optional step lets the script move on if its actor
blocks or finishes first. After the script, every actor runs free.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import posix_ipc

from testbed.harness.spec import RunSpec
from testbed.ipc import control
from testbed.ipc.segment import Segment
from testbed.trace import access_points

FINISH = "finish"  # a step's point: run the actor to its end
END = (1 << 64) - 1  # schedule word of an actor that has finished
BLOCKED = END - 1  # ... of an actor about to block on a lock another actor holds
START = END - 2  # ... of an actor about to run its body: it waits there for its first go
SCHED_WORDS = 2  # per actor: the point it waits at, what << 16 | id (or END, BLOCKED, START),
# and the lock it found taken
MAX_POINTS_A_STEP = 100_000  # an actor looping forever past a point it never reaches
RUNNING, PARKED, BLOCKED_STATE, FINISHED = "running", "parked", "blocked", "finished"


class ScheduleError(RuntimeError):
    """A script that cannot be followed: an actor ended or stalled before its point (exit 3)."""


@dataclass(frozen=True)
class Step:
    actor: str
    point: str
    optional: bool = False
    passes: bool = False  # let the actor through the point once it is there (a replay's step)
    fresh: bool = False  # its next arrival at the point, even if it is parked there now


class Controller:
    def __init__(self, spec: RunSpec, seg: Segment):
        self.spec = spec
        self.control = seg.words("control")
        self.sched = seg.words("sched")
        self.index = {a.name: a.index for a in spec.actors}
        self.go = [posix_ipc.Semaphore(spec.go_sem(a.index)) for a in spec.actors]
        self.arrived = [posix_ipc.Semaphore(spec.arrived_sem(a.index)) for a in spec.actors]
        self.state = [RUNNING] * len(spec.actors)
        self.at: list[str | None] = [None] * len(spec.actors)
        self.blocked_on: list[str] = [""] * len(spec.actors)
        self.log: list[tuple[str, str]] = []  # (actor, point) in the order they were reached
        self.started = False
        self.unseen: set[int] = set()  # actors parked at their first point, not yet asked for it

    def start(self) -> None:
        """Run the actors to their first point one at a time, in index order, before the
        script: the code before an actor's first point runs before anything of the script,
        as in a real run where every actor starts at once, but never two at a time and never
        racing with the end of the script."""
        if not self.started:
            self.started = True
            for i in range(len(self.go)):
                self._wait(i)  # parked at its start
                self._go(i)
                self._wait(i)  # its first point, a lock taken, or its end
                self.unseen.add(i)

    def check(self, steps: list[Step]) -> None:
        for s in steps:
            if s.actor not in self.index:
                raise ScheduleError(f"no actor {s.actor!r}; actors: {', '.join(self.index)}")
            if s.point != FINISH and not access_points.known(self.spec.points, s.point):
                raise ScheduleError(f"no schedule point {s.point!r} in {self.spec.scenario}")

    def drive(self, steps: list[Step]) -> None:
        self.check(steps)
        self.start()
        for step in steps:
            self.run_until(step)
        self.release_all()

    def replay(self, steps: list[Step], first: str = "") -> None:
        """Force `steps`, then stop the run and let the actors finish one at a time, `first`
        first: after the last recorded event nothing is left to chance either.

        A step runs its actor until it is at the step's point (already there: nothing to
        do); a step that `passes` then lets it through the point once, so the step of code
        after the point runs in the trace's order, and the actor parks at its next point."""
        self.check(steps)
        self.start()
        for step in steps:
            i = self.index[step.actor]
            if step.fresh or not (self.state[i] == PARKED and self.at[i] == step.point):
                if not self.run_until(step):
                    continue  # an optional step that blocked or ended
            if step.passes:
                self._go(i)
                self._wait(i)
        self.control[control.STOP] = 1
        order = sorted(self.index, key=lambda name: (name != first, self.index[name]))
        for name in order:
            self.run_until(Step(name, FINISH))

    def run_until(self, step: Step) -> bool:
        """Let one actor run until it parks at `step.point`; False if an optional step
        blocked or finished first.

        Only one actor runs at a time. An actor that finds a lock taken parks as blocked;
        then the other actors advance one point each and it tries again, until it gets the
        lock (the actor has priority, the others run only when it cannot). If none of them
        can move, it is a deadlock. An optional step gives up instead."""
        i = self.index[step.actor]
        if self.state[i] == FINISHED:
            if step.point == FINISH:
                return True
            raise ScheduleError(f"{step.actor} has finished; it cannot reach {step.point!r}")
        if i in self.unseen and self.state[i] == PARKED and self.at[i] == step.point:
            self.unseen.discard(i)  # its first arrival, seen by start(), is this step's
            return True
        self._go(i)
        for _ in range(MAX_POINTS_A_STEP if step.point != FINISH else sys.maxsize):
            self._wait(i)
            reached = self.state[i]
            if reached == BLOCKED_STATE:
                if step.optional:
                    return False
                if not self._advance_others(i):
                    raise ScheduleError(
                        f"deadlock: {step.actor} is blocked on {self.blocked_on[i]} after "
                        f"{self._where(i)}, on its way to {step.point!r}, and no other actor can move"
                    )
                self._go(i)
                continue
            if reached == PARKED and self.at[i] == step.point:
                return True
            if reached == FINISHED:
                if step.optional or step.point == FINISH:
                    return step.point == FINISH
                raise ScheduleError(f"{step.actor} finished before it reached {step.point!r}")
            self._go(i)
        raise ScheduleError(
            f"{step.actor} passed {MAX_POINTS_A_STEP} points without reaching {step.point!r}"
        )

    def _go(self, i: int) -> None:
        """Release actor i from its point, or let it try its lock again."""
        self.unseen.discard(i)
        if self.state[i] in (PARKED, BLOCKED_STATE):
            self.state[i] = RUNNING
            self.go[i].release()

    def _wait(self, i: int) -> None:
        """Wait for actor i's next report: a point, a lock taken, or its end."""
        try:
            self.arrived[i].acquire(self.spec.lock_timeout)
        except posix_ipc.BusyError:
            raise ScheduleError(
                f"{self.spec.actors[i].name} said nothing for {self.spec.lock_timeout:g} s "
                f"after {self._where(i)}"
            ) from None
        at = self.sched[SCHED_WORDS * i]
        name = self.spec.actors[i].name
        if at == END:
            self.state[i] = FINISHED
            self.log.append((name, FINISH))
        elif at == START:
            self.state[i] = PARKED
            self.at[i] = None
        elif at == BLOCKED:
            self.state[i] = BLOCKED_STATE
            self.blocked_on[i] = self.at[i] or "a lock"
        else:
            self.state[i] = PARKED
            self.at[i] = access_points.name(self.spec.points, at & 0xFFFF, at >> 16)
            self.log.append((name, self.at[i]))

    def _advance_others(self, i: int) -> bool:
        """One report from each other unfinished actor, in index order; did any move (reach a
        point or its end, rather than find its lock still taken)?"""
        moved = False
        for j in range(len(self.go)):
            if j == i or self.state[j] == FINISHED:
                continue
            self._go(j)
            self._wait(j)
            moved |= self.state[j] != BLOCKED_STATE
        return moved

    def _where(self, i: int) -> str:
        name = self.spec.actors[i].name
        last = [p for a, p in self.log if a == name]
        return f"point {last[-1]!r}" if last else "its start"

    def release_all(self) -> None:
        """End control: actors stop waiting at points. Each unfinished actor gets one go:
        it is parked, or about to wait (it read the flag just before it was set), or it
        will see the flag and leave the go unused."""
        self.control[control.FREE_RUN] = 1
        for i in range(len(self.go)):
            if self.state[i] != FINISHED:
                self.go[i].release()
                self.state[i] = RUNNING
