"""An actor process: a thread of a PD, running the scenario's actor body with its `ActorEnv`."""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterator

import posix_ipc
import psutil

from testbed.harness import (
    capture,
    deadlock,
    iteration,
    loader,
    perturb,
    portfolio,
    process,
    recorder,
    reuse,
    stats,
)
from testbed.harness.access import AccessAtomic, AccessBitmap, AccessWords, PointedLock
from testbed.harness.deadlock import WatchedLock
from testbed.harness.scheduler import BLOCKED, END, SCHED_WORDS, START
from testbed.harness.spec import RunSpec
from testbed.ipc import control, mailbox
from testbed.ipc.locks import Holder, LockTimeout, NamedLock
from testbed.ipc.native import Atomics, AtomicWord, Bitmap, lib
from testbed.ipc.segment import Segment
from testbed.scenario import Actor, ConfigError, Grade, Scenario
from testbed.trace import access_points


def _no_point(name: str) -> None:
    pass


class Env:
    """The harness's `testbed.ActorEnv`. The public part is that protocol; the rest
    (recording, controlled scheduling, the rings) is plumbing behind it."""

    def __init__(self, spec: RunSpec, actor: Actor, seg: Segment, scenario: Scenario):
        self.spec, self.actor, self.seg = spec, actor, seg
        self.config = spec.config
        self.ctl = seg.words("control")
        self.slot = seg.words("stats")[stats.WORDS * actor.index : stats.WORDS * (actor.index + 1)]
        self._rng = random.Random(spec.seed * 1_000_003 + actor.index)
        self._rng_stale = False  # an iteration began: seed on first use (a seed costs 4 us)
        self.iteration = spec.first_iteration
        self._arbiter = scenario.arbiter if scenario.has_arbiter else None
        self._done = seg.address(iteration.REGION, iteration.DONE) if spec.iterate else 0
        self._arbiter_env = iteration.ArbiterEnv(self)
        self.atomics = Atomics()
        self._outcome_index = {name: k for k, name in enumerate(spec.outcomes)}
        self._failure = {o.name: o.failure for o in scenario.outcomes}
        self._locks: dict[str, NamedLock | WatchedLock | PointedLock] = {}
        self._wait_for = deadlock.WaitFor(
            seg.words(deadlock.REGION),
            seg.words("control"),
            control.holder_word,
            [a.name for a in spec.actors],
            spec.locks,
        )
        self._client = None
        if spec.has_core:
            self._client = mailbox.Client(
                seg,
                actor.index,
                spec.doorbell,
                spec.reply_sem(actor.index),
                spec.reply_spin(actor.index),
                spec.lock_timeout,
            )
        self._grades = scenario.grades(spec.variant)
        self._regions = dict(scenario.regions(spec.config))  # name -> words
        self._views: dict[tuple, object] = {}  # what words(), bitmap(), atomic() handed out
        self._point_index = {name: k for k, name in enumerate(spec.points)}
        self.last_point = ""
        self.recorder = None
        if spec.record:
            self.recorder = recorder.Recorder(
                seg,
                recorder.ring_region(actor.index),
                spec.ring_events,
                seg.address("control", control.TICKET),
            )
        # what the point hook records: a point's event id, None if its step's access does
        self._record_ids: dict[str, int | None] = dict(self._point_index)
        self.access = spec.point_level == "access"
        # perturbation draws from a generator of its own: the body's draws from `rng` must be
        # the same in a replay, which runs without perturbation
        pert_rng = random.Random(f"perturb/{spec.seed}/{actor.index}")
        self._pert = perturb.hook(perturb.parse(spec.perturb), pert_rng, spec.expected_steps)
        owner = getattr(self._pert, "__self__", None)
        self._auto = owner if isinstance(owner, portfolio.Auto) else None  # --perturb auto
        self.point: Callable[[str], None] = _no_point
        self._lock_index = {spec.lock_sem(name): k for k, name in enumerate(spec.locks)}
        self._reuse = seg.words(reuse.REGION) if spec.reuse else None
        if spec.controlled:
            self._sched = seg.words("sched")[SCHED_WORDS * actor.index :][:SCHED_WORDS]
            self._go = posix_ipc.Semaphore(spec.go_sem(actor.index))
            self._arrived = posix_ipc.Semaphore(spec.arrived_sem(actor.index))
            self.point = self._controlled_point
        else:
            self.point = self._free_point() or _no_point

    # -- shared memory ---------------------------------------------------------------------
    def words(self, region: str) -> memoryview | AccessWords:
        if not self.access:
            return self.seg.words(region)
        view = self._views.get(("words", region))
        if view is None:  # one view a region: an iterating body asks once an iteration
            view = self._views[("words", region)] = self._access_words(region)
        return view

    def _access_words(self, region: str) -> AccessWords:
        if access_points.read_family(region) not in self._point_index:
            raise ConfigError(f"region {region!r} is not declared by regions(config)")
        return AccessWords(
            self.seg.words(region),
            self.seg.address(region),
            self._point_index[access_points.read_family(region)],
            self._point_index[access_points.write_family(region)],
            self._before_access(),
            lib() if self.recorder is not None and not self.spec.controlled else None,
        )

    def _before_access(self) -> Callable[[int], None] | None:
        """What runs before each access under --points access: park (controlled), perturb
        (given the ticket the access is about to take, or a fresh one), or nothing."""
        if self.spec.controlled:
            return self._controlled_code
        pert, points = self._pert, self.spec.points
        if pert is None:
            return None
        counter = self.seg.address("control", control.TICKET)
        if self.recorder is not None:
            load = self.atomics.load
            return lambda code: pert(points[code & 0xFFFF], load(counter))
        fetch_add = self.atomics.fetch_add
        return lambda code: pert(points[code & 0xFFFF], fetch_add(counter, 1))

    def address(self, region: str, word: int = 0) -> int:
        return self.seg.address(region, word)

    # -- bitmaps and atomic words: memory reached by address, points under --points access --
    def _declared(self, region: str) -> int:
        """The words of a region the scenario declared; ConfigError naming it otherwise."""
        try:
            return self._regions[region]
        except KeyError:
            raise ConfigError(
                f"region {region!r} is not declared by regions(config): "
                f"{', '.join(self._regions) or 'none'}"
            ) from None

    def _recording_lib(self):
        return lib() if self.recorder is not None and not self.spec.controlled else None

    def bitmap(self, region: str, nbits: int | None = None) -> Bitmap | AccessBitmap:
        view = self._views.get(("bitmap", region, nbits))
        if view is None:
            view = self._views[("bitmap", region, nbits)] = self._bitmap(region, nbits)
        return view

    def _bitmap(self, region: str, nbits: int | None) -> Bitmap | AccessBitmap:
        words = self._declared(region)
        if nbits is None:
            nbits = 64 * words
        if not 0 < nbits <= 64 * words:
            raise ConfigError(
                f"bitmap {region!r} of {nbits} bits: the region holds 1..{64 * words} bits"
            )
        if not self.access:
            return Bitmap(self.seg.address(region), nbits)
        return AccessBitmap(
            self.seg.address(region),
            nbits,
            self._point_index[access_points.read_family(region)],
            self._point_index[access_points.write_family(region)],
            self._before_access(),
            self._recording_lib(),
        )

    def atomic(self, region: str, word: int = 0) -> AtomicWord | AccessAtomic:
        view = self._views.get(("atomic", region, word))
        if view is None:
            view = self._views[("atomic", region, word)] = self._atomic(region, word)
        return view

    def _atomic(self, region: str, word: int) -> AtomicWord | AccessAtomic:
        words = self._declared(region)
        if not 0 <= word < words:
            raise ConfigError(f"atomic {region}[{word}]: the region has words 0..{words - 1}")
        if not self.access:
            return AtomicWord(self.seg.address(region, word))
        return AccessAtomic(
            self.seg.address(region),
            word,
            self._point_index[access_points.read_family(region)],
            self._point_index[access_points.write_family(region)],
            self._before_access(),
            self._recording_lib(),
        )

    def _free_point(self) -> Callable[[str], None] | None:
        """The hook of a normal run: record the event, then perturb; None if neither. When
        recording, the hook is a C builtin (testbed/ipc/hooks.c): no Python frame, no
        ctypes call a point."""
        pert = self._pert
        if self.recorder is not None:
            if pert is None:
                return self.recorder.point_hook(self._record_ids)
            # perturb first, then record: a yield or a delay between the event's ticket and
            # its step would let other actors' events in between, and the trace would then
            # force an order that never happened (the access points do the same)
            recorded = self.recorder.point_hook(self._record_ids)
            load, counter = self.atomics.load, self.seg.address("control", control.TICKET)

            def point(name: str) -> None:
                pert(name, load(counter))
                recorded(name)

            return point
        if pert is not None:
            fetch_add, counter = self.atomics.fetch_add, self.seg.address("control", control.TICKET)

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
        if self.recorder is None or self.spec.controlled or self.access:
            return None
        self._record_ids[point] = None  # the point hook records it no more
        return self._point_index[point]

    def recorded_store(self, point: str, region: str) -> Callable[[int, int], None] | None:
        """`store(index, value)` writing word `index` of `region`, recorded as `point`."""
        event = self._record_at_access(point)
        if event is None:
            return None
        return self.recorder.store_at(event, self.seg.address(region))

    def recorded_find(
        self, point: str, region: str, start: int = 0
    ) -> Callable[[int, int], bool] | None:
        """`find(value, n)`: is `value` among the `n` words of `region` from word `start`?
        Recorded as `point`."""
        event = self._record_at_access(point)
        if event is None:
            return None
        return self.recorder.find_at(event, self.seg.address(region, start))

    def lock(self, name: str) -> NamedLock:
        if name not in self._locks:
            if name not in self.spec.locks:
                raise ConfigError(
                    f"lock {name!r} is not declared by locks(config): "
                    f"{', '.join(self.spec.locks) or 'none'}"
                )
            hook = self._contended if self.spec.controlled else None
            sem = self.spec.lock_sem(name)
            k = self.spec.locks.index(name)
            if self._reuse is not None:  # explore: the runner reads who owns each lock
                word = reuse.owner_word(self._lock_index[sem])
                owner = self._reuse[word : word + 1]
                lock = _OwnedLock(sem, self.spec.lock_timeout, hook, owner, self)
            else:
                holder = Holder(
                    self.ctl,
                    control.holder_word(k),
                    self.actor.index + 1,
                    [a.name for a in self.spec.actors],
                )
                lock = NamedLock(sem, self.spec.lock_timeout, hook, holder)
                if not self.spec.controlled:
                    # (a controlled run's runner sees every actor blocked and names it itself)
                    lock = deadlock.WatchedLock(
                        lock, k, self._wait_for, self.actor.index, self._deadlock
                    )
            self._locks[name] = PointedLock(lock, name, self.point) if self.access else lock
        return self._locks[name]

    def _deadlock(self, found: deadlock.Deadlock) -> None:
        """This actor is in a lock cycle: the first of its members to see it reports it
        (the outcome `deadlock` if the scenario declares one) and stops the run."""
        mine = self.actor.index + 1
        if self.atomics.cas(self.seg.address("control", control.DEADLOCK), 0, mine) == 0:
            stats.write_error(self.slot, found.document())
            if "deadlock" in self._outcome_index:
                self.record("deadlock")
        self.ctl[control.STOP] = 1

    def core_call(self, pd: int) -> Callable[..., tuple[int, int]]:
        if self._client is None:
            raise ConfigError(f"scenario {self.spec.scenario} has no core (it defines no core())")
        if pd != self.actor.pd:
            raise ConfigError(
                f"{self.actor.name}: core_call({pd!r}), but the actor's session is PD "
                f"{self.actor.pd} (its `pd` param): core serves a client as its own PD only"
            )
        call = self._client.call
        if self._reuse is None:
            return call
        calls, word = self._reuse, reuse.core_calls_word(len(self.spec.locks), self.actor.index)

        def counted(op: int, a0: int = 0, a1: int = 0, a2: int = 0) -> tuple[int, int]:
            calls[word] += 1  # the runner sees which steps talked to core
            return call(op, a0, a1, a2)

        return counted

    def stopping(self) -> bool:
        return self.ctl[control.STOP] != 0

    _native_bridge = None  # testbed.native.bridge.Bridge, made at the first env.native()

    def native(self, name: str) -> None:
        """Call `void name(tb_env *env)` of the scenario's C sources (`Scenario.native`) in
        this process (testbed/native/bridge.py)."""
        if self._native_bridge is None:
            from testbed.native.bridge import Bridge

            self._native_bridge = Bridge(self)
        self._native_bridge.call(name)

    def rounds(self) -> Iterator[int]:
        if self.spec.iterate:  # the body is the iteration: one round, its index
            yield self.iteration
            return
        r = 0
        while not self.stopping() and (self.spec.rounds == 0 or r < self.spec.rounds):
            yield r
            r += 1

    # -- iterations ------------------------------------------------------------------------
    def begin_iteration(self, index: int) -> None:
        """The iteration's body sees the index, and draws from `rng` what any run of this
        iteration draws (a replay of it included)."""
        self.iteration = index
        self._rng_stale = True

    @property
    def rng(self) -> random.Random:
        if self._rng_stale:
            self._rng_stale = False
            seed = (self.spec.seed * 1_000_003 + self.actor.index) * 1_000_000_007
            self._rng.seed(seed + self.iteration)
        return self._rng

    def held_locks(self) -> list[str]:
        me = self.actor.index + 1
        if self._reuse is not None:
            owners, word = self._reuse, reuse.owner_word
        else:
            owners, word = self.ctl, control.holder_word
        return [name for k, name in enumerate(self.spec.locks) if owners[word(k)] == me]

    def end_body(self) -> bool:
        """After an iteration's body: it may hold no lock; the last actor to get here runs
        the arbiter. Answers whether this actor was the last."""
        held = self.held_locks() if self._locks else []
        if held:
            raise BodyError(
                f"{self.actor.name} returned from its body of iteration {self.iteration} "
                f"holding lock {', '.join(held)}: an iteration must release what it takes"
            )
        last = self.atomics.fetch_add(self._done, 1) == len(self.spec.actors) - 1
        if last and self._arbiter is not None:
            self._arbiter(self._arbiter_env)
        return last

    def record(self, outcome: str, at: str | None = None, *, n: int = 1) -> None:
        """Count `n` attempts that ended in `outcome`, detected at schedule point `at`."""
        slot = self.slot
        try:
            k = self._outcome_index[outcome]
        except KeyError:
            raise ConfigError(
                f"outcome {outcome!r} is not declared: {', '.join(self.spec.outcomes)}"
            ) from None
        slot[stats.COUNTS + k] += n
        slot[stats.ATTEMPTS] += n
        if at and not slot[stats.DETECTED + k]:
            slot[stats.DETECTED + k] = self._point_index[at] + 1
        if self._failure[outcome] and slot[stats.FIRST_FAILURE_NS] == stats.NO_FAILURE:
            # before a trace is written, which takes a while: that is not the failure's time
            slot[stats.FIRST_FAILURE_NS] = time.monotonic_ns()
            if self._auto is not None:
                slot[stats.STRATEGY] = self._auto.current + 1
        ticket = self.recorder.record(recorder.OUTCOME_EVENT + k) if self.recorder else 0
        if self._failure[outcome]:
            failures = self.atomics.fetch_add(self.seg.address("control", control.FAILURES), n) + n
            limit = self.ctl[control.MAX_FAILURES]
            if limit and failures >= limit:
                self.ctl[control.STOP] = 1  # before a trace is written: the run stops now
        if self.recorder is not None and self._grades[outcome] is not Grade.ACCEPTABLE:
            self._capture(outcome, ticket)

    def _capture(self, outcome: str, ticket: int) -> None:
        """Write a trace of the events that led here, if this run may write another."""
        claimed = self.atomics.fetch_add(self.seg.address("control", control.TRACES), 1)
        if claimed >= self.spec.max_traces:
            return
        if self.spec.iterate:  # the iteration's events are all in the rings
            capture.write_trace(
                self.spec, self.seg, self.actor.name, outcome, ticket, claimed, self.iteration
            )
        else:  # the runner has the run's history: it writes the trace
            k = self._outcome_index[outcome]
            capture.request(self.seg, claimed, self.actor.index, k, ticket)

    # -- schedule points under the runner's control -----------------------------------------
    def _controlled_point(self, name: str) -> None:
        if self.ctl[control.FREE_RUN]:
            return
        if self.ctl[control.ABANDON]:  # still unwinding a dropped iteration
            raise reuse.Abandoned
        self._sched[0] = self._point_index[name]
        self._arrived.release()
        self._wait_go(name)

    def wait_start(self) -> None:
        """A controlled actor waits for its first go before it runs a line of its body."""
        if self.spec.controlled and not self.ctl[control.FREE_RUN]:
            self._sched[0] = START
            self._arrived.release()
            self._wait_go("its start")

    def _controlled_code(self, code: int) -> None:
        """An access point under control: `code` is what << 16 | point id."""
        if self.ctl[control.FREE_RUN]:
            return
        self._sched[0] = code
        self._arrived.release()
        self._wait_go(access_points.name(self.spec.points, code & 0xFFFF, code >> 16))

    def _contended(self, lock: str) -> bool:
        """A lock is taken: park as blocked until the runner says try again (True), or,
        once the run is free, block for real (False)."""
        if self.ctl[control.FREE_RUN]:
            return False
        if self.ctl[control.ABANDON]:
            raise reuse.Abandoned
        self._sched[0] = BLOCKED
        self._sched[1] = self._lock_index.get(lock, 0)
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
        if self.ctl[control.ABANDON]:
            raise reuse.Abandoned

    def next_iteration(self) -> bool:
        """Reused processes: wait for the runner's go; False when there is no next one. The
        iteration starts as a fresh process would: the same seed, rounds from 0."""
        self._wait_go("start")
        if self.ctl[control.STOP]:
            return False
        self._rng.seed(self.spec.seed * 1_000_003 + self.actor.index)
        return True

    def finish(self) -> None:
        if self.spec.reuse:  # what the runner waits for; the counts are per process
            self._sched[0] = END
            self._arrived.release()
            return
        counts = psutil.Process().num_ctx_switches()
        self.slot[stats.VCS], self.slot[stats.IVCS] = counts.voluntary, counts.involuntary
        self.slot[stats.DONE] = 1
        if self.spec.controlled:
            self._sched[0] = END
            self._arrived.release()


class BodyError(RuntimeError):
    """An iteration's body broke the iteration's contract (exit 3)."""


class _OwnedLock(NamedLock):
    """A lock that notes its holder in the `reuse` region: the runner's wait-for graph."""

    __slots__ = ("_owner", "_owner_id")

    def __init__(self, name: str, timeout: float, contended, owner: memoryview, env: Env):
        super().__init__(name, timeout, contended)
        self._owner, self._owner_id = owner, env.actor.index + 1

    def acquire(self) -> None:
        super().acquire()
        self._owner[0] = self._owner_id

    def release(self) -> None:
        self._owner[0] = 0
        super().release()


def _iterations(env: Env, scenario: Scenario, actor: Actor) -> None:
    """A free run's iterations: all released together at the gate, each body once."""
    gate = iteration.Gate(env, scenario, env.spec.spin_start)
    try:
        k = env.spec.first_iteration
        last = gate.arrive()
        while gate.pass_(last):
            env.begin_iteration(k)
            gate.entered(k)
            try:
                scenario.run_actor(env, actor)
            except deadlock.Deadlock:
                if "deadlock" not in env.spec.outcomes:
                    raise
                # counted, and the run stops (Env._deadlock): no arbiter for this one
                last = gate.arrive()
                continue
            last = env.end_body()
            k += 1
    finally:
        gate.close()


def main(spec: RunSpec, index: int) -> None:
    actor = spec.actors[index]
    seg = process.enter(spec, actor.name)
    slot = seg.words("stats")[stats.WORDS * index : stats.WORDS * (index + 1)]
    slot[stats.PID] = os.getpid()
    ctl = seg.words("control")
    try:
        scenario = loader.load(spec.scenario)
        env = Env(spec, actor, seg, scenario)
        Atomics().fetch_add(seg.address("control", control.READY), 1)
        while not ctl[control.START_NS] and not ctl[control.STOP]:
            time.sleep(0.0005)  # all actors start together, when the runner's clock does
        if spec.reuse:  # explore: one iteration a schedule, the runner resets between
            while env.next_iteration():
                try:
                    if spec.iterate:
                        env.begin_iteration(spec.first_iteration)
                    scenario.run_actor(env, actor)
                    if spec.iterate:
                        env.end_body()
                except reuse.Abandoned:
                    pass
                env.finish()
        elif spec.gated:
            _iterations(env, scenario, actor)
            env.finish()
        else:
            env.wait_start()
            if spec.iterate:  # a controlled run of one iteration (replay)
                env.begin_iteration(spec.first_iteration)
            try:
                scenario.run_actor(env, actor)
                if spec.iterate:
                    env.end_body()
            except deadlock.Deadlock:
                if "deadlock" not in spec.outcomes:
                    raise  # no outcome to count it as: the run aborts, naming the cycle
            env.finish()
    except Exception as e:  # every failure ends the run as aborted, with its reason
        slot[stats.ERROR_NS] = time.monotonic_ns()
        stats.write_error(slot, f"{actor.name}: {type(e).__name__}: {e}")
        ctl[control.ABORT] = 1
        sys.exit(3)
