"""Forcing an interleaving at named schedule points, with real processes and real locks.

In a controlled run each actor stops at every schedule point and waits for the runner's
go. A script is a list of steps "let actor A run until it reaches point P"; a step may
allow the actor to block for real (on a lock held by a parked actor), which the runner
sees as no arrival within `block_s`. After the script, every actor runs free.
"""

from __future__ import annotations

from dataclasses import dataclass

import posix_ipc

from . import mailbox
from .actor import END, SCHED_WORDS
from .segment import Segment
from .spec import RunSpec

FINISH = "finish"  # a step's point: run the actor to its end


class ScheduleError(RuntimeError):
    """A script that cannot be followed: an actor ended or stalled before its point (exit 3)."""


@dataclass(frozen=True)
class Step:
    actor: str
    point: str
    may_block: bool = False


class Controller:
    def __init__(self, spec: RunSpec, seg: Segment, block_s: float = 0.5):
        self.spec, self.block_s = spec, block_s
        self.control = seg.words("control")
        self.sched = seg.words("sched")
        self.index = {a.name: a.index for a in spec.actors}
        self.go = [posix_ipc.Semaphore(spec.go_sem(a.index)) for a in spec.actors]
        self.arrived = [posix_ipc.Semaphore(spec.arrived_sem(a.index)) for a in spec.actors]
        self.parked = [False] * len(spec.actors)
        self.finished = [False] * len(spec.actors)
        self.log: list[tuple[str, str]] = []  # (actor, point) in the order they were reached

    def check(self, steps: list[Step]) -> None:
        for s in steps:
            if s.actor not in self.index:
                raise ScheduleError(f"no actor {s.actor!r}; actors: {', '.join(self.index)}")
            if s.point != FINISH and s.point not in self.spec.points:
                raise ScheduleError(f"no schedule point {s.point!r} in {self.spec.scenario}")

    def drive(self, steps: list[Step]) -> None:
        self.check(steps)
        for step in steps:
            self.run_until(step)
        self.release_all()

    def run_until(self, step: Step) -> bool:
        """Let one actor run until it parks at `step.point`; False if it blocked instead."""
        i = self.index[step.actor]
        if self.finished[i]:
            if step.point == FINISH:
                return True
            raise ScheduleError(f"{step.actor} has finished; it cannot reach {step.point!r}")
        if self.parked[i]:
            self.parked[i] = False
            self.go[i].release()
        while True:
            timeout = self.block_s if step.may_block else self.spec.lock_timeout
            try:
                self.arrived[i].acquire(timeout)
            except posix_ipc.BusyError:
                if step.may_block:
                    return False
                raise ScheduleError(
                    f"{step.actor} did not reach {step.point!r} within {timeout:g} s"
                ) from None
            at = self.sched[SCHED_WORDS * i]
            if at == END:
                self.finished[i] = True
                if step.point == FINISH:
                    return True
                raise ScheduleError(f"{step.actor} finished before it reached {step.point!r}")
            name = self.spec.points[at]
            self.log.append((step.actor, name))
            self.parked[i] = True
            if name == step.point:
                return True
            self.parked[i] = False
            self.go[i].release()

    def release_all(self) -> None:
        """End control: actors stop waiting at points. Each unfinished actor gets one go:
        it is parked, or about to wait (it read the flag just before it was set), or it
        will see the flag and leave the go unused."""
        self.control[mailbox.FREE_RUN] = 1
        for i in range(len(self.go)):
            if not self.finished[i]:
                self.go[i].release()
                self.parked[i] = False
