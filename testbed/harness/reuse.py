"""Reusing a run's processes for another iteration (testbed explore): the shared state, the
locks and core's service put back as a fresh run would have them, without a new process.

What an iteration may change, and how it is put back: the scenario's regions (zeroed, as a
new segment is, then `init_shared` again), the actors' counters, the locks (back to free),
core's service (core builds it again from `Scenario.core`), and the control words. The
`reuse` region also lets the runner see what each step did: who holds each lock, and how
many requests each actor has made to core.
"""

from __future__ import annotations

from collections.abc import Callable

import posix_ipc

from testbed.harness import iteration, stats
from testbed.harness.spec import RunSpec
from testbed.ipc import control
from testbed.ipc.segment import Segment
from testbed.scenario import Scenario

REGION = "reuse"


class Abandoned(BaseException):  # noqa: N818 - not an error: a BaseException so scenarios' `except Exception` let it through
    """Raised in a parked actor when the runner drops the iteration (a deadlock, a schedule
    cut short): it unwinds the actor body back to the iteration loop."""


def words(nactors: int, nlocks: int) -> int:
    return nlocks + nactors


def owner_word(lock_index: int) -> int:
    """Word of the `reuse` region holding the lock's holder: actor index + 1, 0 if free."""
    return lock_index


def core_calls_word(nlocks: int, actor_index: int) -> int:
    """Word of the `reuse` region counting the actor's requests to core."""
    return nlocks + actor_index


class Reset:
    """The runner's side: `__call__(epoch)` makes the next iteration start as a new run."""

    def __init__(self, spec: RunSpec, seg: Segment, scenario: Scenario, alive: Callable[[], None]):
        self.spec, self.seg, self.scenario, self.alive = spec, seg, scenario, alive
        self.ctl = seg.words("control")
        self.stats = seg.words("stats")
        self.regions = [seg.bytes(r) for r in scenario.regions(spec.config)] + [seg.bytes(REGION)]
        if spec.iterate:  # who ended its body: the last one runs the arbiter
            self.regions.append(seg.bytes(iteration.REGION))
        self.locks = [posix_ipc.Semaphore(spec.lock_sem(name)) for name in spec.locks]
        self.doorbell = posix_ipc.Semaphore(spec.doorbell) if spec.has_core else None

    def __call__(self, epoch: int) -> None:
        for region in self.regions:
            region[:] = bytes(len(region))
        for a in self.spec.actors:
            slot = self.stats[stats.WORDS * a.index :][: stats.WORDS]
            pid = slot[stats.PID]
            slot[:] = memoryview(bytes(8 * stats.WORDS)).cast("Q")
            slot[stats.PID], slot[stats.FIRST_FAILURE_NS] = pid, stats.NO_FAILURE
        for sem in self.locks:  # free, whoever held it when the iteration was dropped
            while True:
                try:
                    sem.acquire(0)
                except posix_ipc.BusyError:
                    break
            sem.release()
        for word in (control.STOP, control.FAILURES, control.ABANDON, control.TRACES):
            self.ctl[word] = 0
        self.scenario.init_shared(self.seg, self.spec.config)
        if self.doorbell is None:
            self.ctl[control.EPOCH] = epoch
            return
        iteration.reset_core(self.ctl, self.doorbell, epoch, self.alive)

    def close(self) -> None:
        for region in self.regions:
            region.release()
        for sem in self.locks:
            sem.close()
        if self.doorbell is not None:
            self.doorbell.close()
