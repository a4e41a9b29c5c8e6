"""Reusing a run's processes for another iteration (testbed explore): the shared state, the
locks and core's service put back as a fresh run would have them, without a new process.

What an iteration may change, and how it is put back: the scenario's regions (zeroed, as a
new segment is, then `init_shared` again: by core when the run has one, as in a free run's
iterations), the actors' counters, the locks (back to free),
core's service (core builds it again from `Scenario.core`), and the control words. The
`reuse` region also lets the runner see what each step did: who holds each lock, and how
many requests each actor has made to core.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import posix_ipc

from testbed.harness import iteration, stats
from testbed.harness.spec import RunSpec
from testbed.ipc import control
from testbed.ipc.locks import kept
from testbed.ipc.segment import Segment
from testbed.scenario import Scenario
from testbed.trace import access_points

REGION = "reuse"


class Abandoned(BaseException):  # noqa: N818 - not an error: a BaseException so scenarios' `except Exception` let it through
    """Raised in a parked actor when the runner drops the iteration (a deadlock, a schedule
    cut short): it unwinds the actor body back to the iteration loop."""


# Per actor, a log of what its current step touched that the runner cannot see in memory:
# the words it read (at named points, where no access parks) and the requests it made to
# core; the runner reads and clears it after each step. Word 0: words used; word 1: flags.
LOG_WORDS = 256
LOG_HEAD = 2
LOG_OVERFLOW = 1  # more than the log holds: the step's reads and requests are unknown
LOG_OPAQUE = 2  # the actor reaches memory by address (env.address, env.native, a cast)
LOG_ACCESS = 1 << 62  # an entry: LOG_ACCESS | code (what << 16 | family id)
LOG_CORE = 2 << 62  # an entry: LOG_CORE | op, then a0, a1, a2, status, value
LOG_LOCK = 3 << 62  # an entry: LOG_LOCK | lock index (taken or released)
CORE_ENTRY_WORDS = 6


def words(nactors: int, nlocks: int) -> int:
    return nlocks + nactors + nactors * LOG_WORDS


def owner_word(lock_index: int) -> int:
    """Word of the `reuse` region holding the lock's holder: actor index + 1, 0 if free."""
    return lock_index


def core_calls_word(nlocks: int, actor_index: int) -> int:
    """Word of the `reuse` region counting the actor's requests to core."""
    return nlocks + actor_index


def log_word(nlocks: int, nactors: int, actor_index: int) -> int:
    """First word of the `reuse` region holding the actor's step log."""
    return nlocks + nactors + LOG_WORDS * actor_index


def observed_families(regions: list[str]) -> list[str]:
    """The families whose ids a named-level observed access logs (id: index here)."""
    return [
        f for r in regions for f in (access_points.read_family(r), access_points.write_family(r))
    ]


class Reset:
    """The runner's side: `__call__(epoch)` makes the next iteration start as a new run."""

    def __init__(self, spec: RunSpec, seg: Segment, scenario: Scenario, alive: Callable[[], None]):
        self.spec, self.seg, self.scenario, self.alive = spec, seg, scenario, alive
        self.ctl = seg.words("control")
        self.stats = seg.words("stats")
        # the scenario's regions: core puts them back if the run has one (reset_core)
        self.fresh = None if spec.has_core else iteration.FreshState(seg, scenario, spec.config)
        # the runner's own words: owners, requests, step logs; and, iterating, who ended its
        # body (the last one runs the arbiter)
        own = [REGION, iteration.REGION] if spec.iterate else [REGION]
        self.own = [(seg.address(r), seg.layout.regions[r][1]) for r in own]
        # a PD's own lock: kept open by the runner since its creation (its name is gone)
        names = [spec.lock_sem(name) for name in spec.locks]
        self._opened = {n: posix_ipc.Semaphore(n) for n in names if kept(n) is None}
        self.locks = [self._opened.get(n) or kept(n) for n in names]
        self.doorbell = posix_ipc.Semaphore(spec.doorbell) if spec.has_core else None

    def __call__(self, epoch: int) -> None:
        for addr, nbytes in self.own:
            ctypes.memset(addr, 0, nbytes)
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
        if self.fresh is not None:
            self.fresh()
        if self.doorbell is None:
            self.ctl[control.EPOCH] = epoch
            return
        iteration.reset_core(self.ctl, self.doorbell, epoch, self.alive)

    def close(self) -> None:
        for sem in self._opened.values():
            sem.close()
        if self.doorbell is not None:
            self.doorbell.close()
