"""Running one schedule after another on the same processes: the runner picks which actor
takes the next step (from the point it is parked at to its next point, its end, or a lock
another actor holds), one actor at a time, and resets the shared state between schedules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import posix_ipc

from testbed.explorer.reduction import Footprint, Observer
from testbed.harness import reuse, stats
from testbed.harness.spec import RunSpec
from testbed.ipc import control
from testbed.ipc.segment import Segment
from testbed.scenario import Scenario
from testbed.trace import access_points
from testbed.trace.schedule import BLOCKED, END, FINISH, SCHED_WORDS

ALIVE_CHECK_S = 0.2
PARKED, WAITING, FINISHED = "parked", "waiting", "finished"  # WAITING: on a lock


class DriverError(RuntimeError):
    """The schedule cannot go on: an actor went silent, or looped past the step limit."""


@dataclass(frozen=True)
class StepDone:
    actor: int
    reached: str  # the point it parked at, FINISH, or "" if it found its lock taken
    footprint: Footprint | None


class Driver:
    def __init__(
        self,
        spec: RunSpec,
        seg: Segment,
        scenario: Scenario,
        alive: Callable[[], None],
        observe: bool,
    ):
        self.spec, self.alive = spec, alive
        self.n = len(spec.actors)
        self.ctl = seg.words("control")
        self.sched = seg.words("sched")
        self.owners = seg.words(reuse.REGION)
        self.go = [posix_ipc.Semaphore(spec.go_sem(a.index)) for a in spec.actors]
        self.arrived = [posix_ipc.Semaphore(spec.arrived_sem(a.index)) for a in spec.actors]
        self.reset = reuse.Reset(spec, seg, scenario, alive)
        regions = list(scenario.regions(spec.config))
        self.observer = Observer(seg, regions, spec.locks) if observe else None
        self.stats = seg.words("stats")
        self.epoch = 0
        self.state = [FINISHED] * self.n
        self.at = [""] * self.n
        self.lock = [0] * self.n  # the lock index an actor in WAITING found taken

    # -- one schedule ----------------------------------------------------------------------
    def start(self) -> None:
        """Reset everything, then let each actor run, in index order, to its first point."""
        self.epoch += 1
        self.reset(self.epoch)
        for i in range(self.n):
            self.go[i].release()
            self._wait(i)
        if self.observer is not None:
            self.observer.mark()

    def enabled(self) -> list[int]:
        """Actors that can take a step: parked at a point, or waiting on a lock now free."""
        return [
            i
            for i in range(self.n)
            if self.state[i] == PARKED
            or (self.state[i] == WAITING and not self.owners[reuse.owner_word(self.lock[i])])
        ]

    def step(self, i: int) -> StepDone:
        self.go[i].release()
        self._wait(i)
        fp = self.observer.footprint() if self.observer is not None else None
        reached = {PARKED: self.at[i], FINISHED: FINISH, WAITING: ""}[self.state[i]]
        return StepDone(i, reached, fp)

    def finished(self) -> bool:
        return all(s == FINISHED for s in self.state)

    def wait_for(self) -> list[tuple[int, str, int]]:
        """(actor, lock, holder) for every actor waiting on a lock; holder -1 if none."""
        return [
            (i, self.spec.locks[self.lock[i]], self.owners[reuse.owner_word(self.lock[i])] - 1)
            for i in range(self.n)
            if self.state[i] == WAITING
        ]

    def outcomes(self) -> list[dict[str, int]]:
        """Per actor: the outcomes it recorded in this schedule."""
        out = []
        for i in range(self.n):
            slot = self.stats[stats.WORDS * i :][: stats.WORDS]
            out.append(
                {
                    name: slot[stats.COUNTS + k]
                    for k, name in enumerate(self.spec.outcomes)
                    if slot[stats.COUNTS + k]
                }
            )
        return out

    def abandon(self) -> None:
        """Drop the schedule: every unfinished actor unwinds its body and reports its end."""
        self.ctl[control.ABANDON] = 1
        for i in range(self.n):
            if self.state[i] != FINISHED:
                self.go[i].release()
                self._wait(i)
                if self.state[i] != FINISHED:
                    raise DriverError(f"{self.spec.actors[i].name} did not drop its iteration")
        self.ctl[control.ABANDON] = 0

    def stop(self) -> None:
        """No more schedules: the actors leave their loop and end."""
        self.ctl[control.STOP] = 1
        for i in range(self.n):
            self.go[i].release()

    def close(self) -> None:
        self.reset.close()
        if self.observer is not None:
            self.observer.close()
        for sem in (*self.go, *self.arrived):
            sem.close()

    # -- reports ---------------------------------------------------------------------------
    def _wait(self, i: int) -> None:
        timeout = self.spec.lock_timeout
        waited = 0.0
        while True:
            try:
                self.arrived[i].acquire(ALIVE_CHECK_S)
                break
            except posix_ipc.BusyError:
                self.alive()  # an actor that crashed ends the run now, with its reason
                waited += ALIVE_CHECK_S
                if waited >= timeout:
                    where = self.at[i] or "its start"
                    raise DriverError(
                        f"{self.spec.actors[i].name} said nothing for {timeout:g} s after {where!r}"
                    ) from None
        at = self.sched[SCHED_WORDS * i]
        if at == END:
            self.state[i] = FINISHED
        elif at == BLOCKED:
            self.state[i] = WAITING
            self.lock[i] = self.sched[SCHED_WORDS * i + 1]
        else:
            self.state[i] = PARKED
            self.at[i] = access_points.name(self.spec.points, at & 0xFFFF, at >> 16)
