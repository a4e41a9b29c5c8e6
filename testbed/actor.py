"""An actor process: a thread of a PD, running the scenario's actor body against core."""

from __future__ import annotations

import functools
import os
import random
import sys
import time
from collections.abc import Callable, Iterator

import posix_ipc
import psutil

from . import capture, mailbox, perturb, process, recorder, registry, stats
from .locks import LockTimeout, NamedLock
from .native import Atomics
from .scenario import Grade
from .schedule import BLOCKED, END, SCHED_WORDS
from .spec import ActorSpec, RunSpec


class Env:
    """What the harness gives an actor body: locks, core, schedule points, outcome counters."""

    def __init__(self, spec: RunSpec, actor: ActorSpec, seg):
        self.spec, self.actor, self.seg = spec, actor, seg
        self.control = seg.words("control")
        self.slot = seg.words("stats")[stats.WORDS * actor.index : stats.WORDS * (actor.index + 1)]
        self.rng = random.Random(spec.seed * 1_000_003 + actor.index)
        self.atomics = Atomics()
        self._outcome_index = {name: k for k, name in enumerate(spec.outcomes)}
        scenario = registry.get(spec.scenario)
        self._failure = {o.name: o.failure for o in scenario.outcomes}
        self._locks: dict[str, NamedLock] = {}
        self._client = mailbox.Client(
            seg,
            actor.index,
            spec.doorbell,
            spec.reply_sem(actor.index),
            spec.reply_spin_s,
            spec.lock_timeout,
        )
        self._grades = scenario.grades(spec.variant)
        self._point_index = {name: k for k, name in enumerate(spec.points)}
        self.last_point = ""
        self.recorder = None
        if spec.record:
            self.recorder = recorder.Recorder(
                seg,
                recorder.ring_region(actor.index),
                spec.ring_events,
                seg.addr("control", mailbox.TICKET),
            )
        self._at_access: set[str] = set()  # points their step's access records
        self.point: Callable[[str], None] | None = None
        if spec.controlled:
            self._sched = seg.words("sched")[SCHED_WORDS * actor.index :][:SCHED_WORDS]
            self._go = posix_ipc.Semaphore(spec.go_sem(actor.index))
            self._arrived = posix_ipc.Semaphore(spec.arrived_sem(actor.index))
            self.point = self._controlled_point
        else:
            self.point = self._free_point()

    def _free_point(self) -> Callable[[str], None] | None:
        """The hook of a normal run: record the event, then perturb; None if neither."""
        ids = self._point_index
        pert = perturb.hook(perturb.parse(self.spec.perturb), self.rng, self.spec.expected_steps)
        if self.recorder is not None:
            record, at_access = self.recorder.record, self._at_access
            if pert is None:
                return lambda name: None if name in at_access else record(ids[name])
            load, counter = self.atomics.load, self.seg.addr("control", mailbox.TICKET)

            def point(name: str) -> None:
                # a point recorded at its access: the ticket its access is about to take
                pert(name, load(counter) if name in at_access else record(ids[name]))

            return point
        if pert is not None:
            fetch_add, counter = self.atomics.fetch_add, self.seg.addr("control", mailbox.TICKET)

            def point(name: str) -> None:
                pert(name, fetch_add(counter, 1))

            return point
        return None

    # -- steps recorded at their access ------------------------------------------------------
    # A point's ticket is taken when the point's hook is called, and the step after it runs
    # 0.5-1 us of Python later: two steps on two CPUs can touch memory in the other order
    # than their tickets. For a step that is one read or write of shared memory, a scenario
    # can have the access itself record the point: these answer an accessor that takes the
    # ticket, records the point's event and does the access in one C call, and from then on
    # the point's hook records nothing for that point (one event a step, at its access, and
    # still named after the point: a replay passes the point there, as before). They answer
    # None when the run records nothing or is controlled: the scenario then does the plain
    # access, and the point hook works as it always does (a controlled actor still parks at
    # the point, before the access).
    def _record_at_access(self, point: str) -> int | None:
        if self.recorder is None or self.spec.controlled:
            return None
        self._at_access.add(point)
        return self._point_index[point]

    def recorded_store(self, point: str, region: str) -> Callable[[int, int], None] | None:
        """`store(index, value)` writing word `index` of `region`, recorded as `point`."""
        event = self._record_at_access(point)
        if event is None:
            return None
        return self.recorder.store_at(event, self.seg.addr(region))

    def recorded_find(
        self, point: str, region: str, start: int = 0
    ) -> Callable[[int, int], bool] | None:
        """`find(value, n)`: is `value` among the `n` words of `region` from word `start`?
        Recorded as `point`."""
        event = self._record_at_access(point)
        if event is None:
            return None
        return self.recorder.find_at(event, self.seg.addr(region, start))

    def lock(self, name: str) -> NamedLock:
        if name not in self._locks:
            hook = self._contended if self.spec.controlled else None
            self._locks[name] = NamedLock(self.spec.lock_sem(name), self.spec.lock_timeout, hook)
        return self._locks[name]

    def core_call(self, pd: int) -> Callable[[int, int, int, int], tuple[int, int]]:
        return functools.partial(self._client.call, pd=pd)

    def stopping(self) -> bool:
        return self.control[mailbox.STOP] != 0

    def rounds(self) -> Iterator[int]:
        r = 0
        while not self.stopping() and (self.spec.rounds == 0 or r < self.spec.rounds):
            yield r
            r += 1

    def record(self, outcome: str, n: int = 1, at: str = "") -> None:
        """Count `n` attempts that ended in `outcome`, detected at schedule point `at`."""
        slot = self.slot
        k = self._outcome_index[outcome]
        slot[stats.COUNTS + k] += n
        slot[stats.ATTEMPTS] += n
        if at and not slot[stats.DETECTED + k]:
            slot[stats.DETECTED + k] = self._point_index[at] + 1
        if self._failure[outcome] and slot[stats.FIRST_FAILURE_NS] == stats.NO_FAILURE:
            # before a trace is written, which takes a while: that is not the failure's time
            slot[stats.FIRST_FAILURE_NS] = time.monotonic_ns()
        ticket = self.recorder.record(recorder.OUTCOME_EVENT + k) if self.recorder else 0
        if self._failure[outcome]:
            failures = self.atomics.fetch_add(self.seg.addr("control", mailbox.FAILURES), n) + n
            limit = self.control[mailbox.MAX_FAILURES]
            if limit and failures >= limit:
                self.control[mailbox.STOP] = 1  # before a trace is written: the run stops now
        if self.recorder is not None and self._grades[outcome] is not Grade.ACCEPTABLE:
            self._capture(outcome, ticket)

    def _capture(self, outcome: str, ticket: int) -> None:
        """Write a trace of the events that led here, if this run may write another."""
        claimed = self.atomics.fetch_add(self.seg.addr("control", mailbox.TRACES), 1)
        if claimed < self.spec.max_traces:
            capture.write_trace(self.spec, self.seg, self.actor.name, outcome, ticket, claimed)

    # -- schedule points under the runner's control -----------------------------------------
    def _controlled_point(self, name: str) -> None:
        if self.control[mailbox.FREE_RUN]:
            return
        self._sched[0] = self._point_index[name]
        self._arrived.release()
        self._wait_go(name)

    def _contended(self, lock: str) -> bool:
        """A lock is taken: park as blocked until the runner says try again (True), or,
        once the run is free, block for real (False)."""
        if self.control[mailbox.FREE_RUN]:
            return False
        self._sched[0] = BLOCKED
        self._arrived.release()
        self._wait_go(lock)
        return True

    def _wait_go(self, name: str) -> None:
        try:
            self._go.acquire(self.spec.lock_timeout)
        except posix_ipc.BusyError:
            raise LockTimeout(
                f"{self.actor.name} waited {self.spec.lock_timeout:g} s at schedule point "
                f"{name!r} for its turn"
            ) from None

    def finish(self) -> None:
        counts = psutil.Process().num_ctx_switches()
        self.slot[stats.VCS], self.slot[stats.IVCS] = counts.voluntary, counts.involuntary
        self.slot[stats.DONE] = 1
        if self.spec.controlled:
            self._sched[0] = END
            self._arrived.release()


def main(spec: RunSpec, index: int) -> None:
    actor = spec.actors[index]
    seg = process.enter(spec, actor.name)
    slot = seg.words("stats")[stats.WORDS * index : stats.WORDS * (index + 1)]
    slot[stats.PID] = os.getpid()
    control = seg.words("control")
    try:
        env = Env(spec, actor, seg)
        Atomics().fetch_add(seg.addr("control", mailbox.READY), 1)
        while not control[mailbox.START_NS] and not control[mailbox.STOP]:
            time.sleep(0.0005)  # all actors start together, when the runner's clock does
        registry.get(spec.scenario).run_actor(env, actor)
        env.finish()
    except Exception as e:  # every failure ends the run as aborted, with its reason
        stats.write_error(slot, f"{actor.name}: {type(e).__name__}: {e}")
        control[mailbox.ABORT] = 1
        sys.exit(3)
