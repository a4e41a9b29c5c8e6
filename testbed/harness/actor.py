"""An actor process: a thread of a PD, running the scenario's actor body with its `ActorEnv`."""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import psutil

from testbed.harness import (
    capture,
    deadlock,
    diagnosis,
    gate,
    iteration,
    loader,
    notes,
    perturb,
    process,
    recorder,
    reuse,
    stats,
)
from testbed.harness.access import (
    AccessAtomic,
    AccessBitmap,
    AccessWords,
    ObservedWords,
    PointedLock,
    access_words,
)
from testbed.harness.spec import RunSpec
from testbed.ipc import control, mailbox
from testbed.ipc.locks import keep_open
from testbed.ipc.native import Atomics, AtomicWord, Bitmap, lib
from testbed.ipc.segment import Segment
from testbed.scenario import Actor, ConfigError, Grade, Scenario
from testbed.trace import access_points


class Env:
    """The harness's `testbed.ActorEnv`: a thin layer over the run's gate (harness/gate/),
    which every point, view, bitmap, atomic and lock passes. The public part is that
    protocol; the rest (recording, the rings, the gate's hooks) is plumbing behind it."""

    def __init__(self, spec: RunSpec, actor: Actor, seg: Segment, scenario: Scenario):
        self.spec, self.actor, self.seg = spec, actor, seg
        self.config = spec.config
        self.ctl = seg.words("control")
        self.slot = seg.words("stats")[stats.WORDS * actor.index : stats.WORDS * (actor.index + 1)]
        self._rng = random.Random(self._seed(spec.first_iteration))
        self._rng_stale = False  # an iteration began: seed on first use (a seed costs 4 us)
        self.iteration = spec.first_iteration
        self._arbiter = scenario.arbiter if scenario.has_arbiter else None
        self._done = seg.address(iteration.REGION, iteration.DONE) if spec.iterate else 0
        self._arbiter_env = iteration.ArbiterEnv(self)
        self.atomics = Atomics()
        self._outcome_index = {name: k for k, name in enumerate(spec.outcomes)}
        self._failure = {o.name: o.failure for o in scenario.outcomes}
        self._locks: dict[str, Any] = {}
        for lock in spec.lock_owner:  # its PD's own locks, opened now: their names go at start
            if spec.reaches_lock(actor, lock):
                keep_open(spec.lock_sem(lock))
        self._client = None
        self.boxes = None  # this actor's own mailbox page (it maps no other)
        if spec.has_core:
            self.boxes = mailbox.Boxes(spec.mailbox_name, len(spec.actors), actor.index)
            self._client = mailbox.Client(
                seg,
                actor.index,
                spec.doorbell,
                spec.reply_sem(actor.index),
                spec.reply_spin(actor.index),
                spec.lock_timeout,
                boxes=self.boxes,
            )
        self._grades = scenario.grades(spec.variant)
        self.regions = dict(scenario.regions(spec.config))  # name -> words
        self._views: dict[tuple, object] = {}  # what words(), bitmap(), atomic() handed out
        self.point_index = {name: k for k, name in enumerate(spec.points)}
        self.recorder = None
        if spec.record:
            self.recorder = recorder.Recorder(
                seg,
                recorder.ring_region(actor.index),
                spec.ring_events,
                seg.address("control", control.TICKET),
            )
        # what the point hook records: a point's event id, None if its step's access does
        self.record_ids: dict[str, int | None] = dict(self.point_index)
        self.access = spec.point_level == "access"
        # the harness passes each lock's points (`L.acquire`, `L.acquired`, `L.release`),
        # unless the scenario's own code passes them (access_points.names_lock_points)
        self._pointed_locks = self.access or not access_points.names_lock_points(scenario.points)
        # perturbation draws from a generator of its own: the body's draws from `rng` must be
        # the same in a replay, which runs without perturbation
        pert_rng = random.Random(f"perturb/{spec.seed}/{actor.index}")
        self.pert = perturb.hook(perturb.parse(spec.perturb), pert_rng, spec.expected_steps)
        owner = getattr(self.pert, "__self__", None)
        self._auto = owner if isinstance(owner, perturb.Auto) else None  # --perturb auto
        # explore at named points: accesses are not points but are logged, so the runner
        # knows what a step read (reuse.py's step log); memory reached by address is not
        # testbed explain: every access, lock and outcome noted with its line (notes.py)
        self.notes = notes.Notes(self, spec.explain, scenario.core_event) if spec.explain else None
        self.observe = (spec.reuse or self.notes is not None) and not self.access
        self._observed = self.log_access if spec.reuse else self.notes and self.notes.observed
        self.opaque = False  # this actor reached memory by address: its reads are unknown
        if spec.reuse:
            w = reuse.log_word(len(spec.locks), len(spec.actors), actor.index)
            self.step_log = seg.words(reuse.REGION)[w : w + reuse.LOG_WORDS]
        if self.observe:
            families = reuse.observed_families(list(self.regions))
            self._family_id = {f: k for k, f in enumerate(families)}
        self.gate = gate.choose(self)
        self.point: Callable[[str], None] = self.gate.point
        self._lock_point = self.gate.lock_point
        if self.notes is not None:
            self.point = self.notes.around_point(self.gate.point)
            self._lock_point = self.notes.around_point(self.gate.lock_point)

    def before_access(self) -> Callable[[int], None] | None:
        """What runs before each access under --points access (the gate's, noted)."""
        before = self.gate.before_access()
        if self.notes is not None and before is not None:
            return self.notes.around_access(before)
        return before

    # -- shared memory ---------------------------------------------------------------------
    def words(self, region: str) -> memoryview | AccessWords:
        if self.observe and region not in self.regions:
            self.reach_by_address()
        if not self.access and (not self.observe or region not in self.regions):
            return self.seg.words(region)
        view = self._views.get(("words", region))
        if view is None:  # one view a region: an iterating body asks once an iteration
            view = self._views[("words", region)] = self._access_words(region)
        return view

    def _access_words(self, region: str) -> AccessWords:
        if self.observe:
            rid, wid = self._ids(region)
            return ObservedWords(
                self.seg.words(region), self.seg.address(region), rid, wid, self._observed,
                None, self.reach_by_address,
            )  # fmt: skip
        if access_points.read_family(region) not in self.point_index:
            raise ConfigError(f"region {region!r} is not declared by regions(config)")
        return access_words(
            self.seg.words(region),
            self.seg.address(region),
            self.point_index[access_points.read_family(region)],
            self.point_index[access_points.write_family(region)],
            self.before_access(),
            self._recording_lib(),
        )

    def address(self, region: str, word: int = 0) -> int:
        self.reach_by_address()
        return self.seg.address(region, word)

    # -- explore at named points: the step log (reuse.py) --------------------------------------
    def _ids(self, region: str) -> tuple[int, int]:
        return (
            self._family_id[access_points.read_family(region)],
            self._family_id[access_points.write_family(region)],
        )

    def log_access(self, code: int, kind: int = reuse.LOG_ACCESS) -> None:
        """An access at a named-level explore (or a lock taken or released: `kind`
        LOG_LOCK, `code` its index): noted for the runner, no point."""
        log, entry = self.step_log, kind | code
        n = log[0]
        if n and log[reuse.LOG_HEAD + n - 1] == entry:
            return
        if reuse.LOG_HEAD + n >= reuse.LOG_WORDS:
            log[1] |= reuse.LOG_OVERFLOW
            return
        log[reuse.LOG_HEAD + n] = entry
        log[0] = n + 1

    def log_core(self, op: int, a0: int, a1: int, a2: int, status: int, value: int) -> None:
        """A request to core and its answer, for the runner's footprint of the step."""
        log = self.step_log
        n = log[0]
        if reuse.LOG_HEAD + n + reuse.CORE_ENTRY_WORDS > reuse.LOG_WORDS:
            log[1] |= reuse.LOG_OVERFLOW
            return
        at = reuse.LOG_HEAD + n
        for k, v in enumerate((reuse.LOG_CORE | op, a0, a1, a2, status, value)):
            log[at + k] = v & (1 << 64) - 1
        log[0] = n + reuse.CORE_ENTRY_WORDS

    def reach_by_address(self, native: bool = False) -> None:
        """The actor reaches shared memory by address: from now on its reads are unknown."""
        self.opaque = True
        if self.observe and self.spec.reuse:
            self.step_log[1] |= reuse.LOG_OPAQUE
        if self.notes is not None:
            self.notes.opaque(native)

    # -- bitmaps and atomic words: memory reached by address, points under --points access --
    def _declared(self, region: str) -> int:
        """The words of a region the scenario declared; ConfigError naming it otherwise."""
        try:
            return self.regions[region]
        except KeyError:
            raise ConfigError(
                f"region {region!r} is not declared by regions(config): "
                f"{', '.join(self.regions) or 'none'}"
            ) from None

    def _recording_lib(self):
        """The C library when accesses record their own events (a free run that records)."""
        return lib() if self.gate.records_accesses else None

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
        if self.observe:
            rid, wid = self._ids(region)
            return AccessBitmap(self.seg.address(region), nbits, rid, wid, self._observed, None)
        if not self.access:
            return Bitmap(self.seg.address(region), nbits)
        return AccessBitmap(
            self.seg.address(region),
            nbits,
            self.point_index[access_points.read_family(region)],
            self.point_index[access_points.write_family(region)],
            self.before_access(),
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
        if self.observe:
            rid, wid = self._ids(region)
            return AccessAtomic(self.seg.address(region), word, rid, wid, self._observed, None)
        if not self.access:
            return AtomicWord(self.seg.address(region, word))
        return AccessAtomic(
            self.seg.address(region),
            word,
            self.point_index[access_points.read_family(region)],
            self.point_index[access_points.write_family(region)],
            self.before_access(),
            self._recording_lib(),
        )

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
        if not self.gate.records_accesses or self.access:
            return None
        self.record_ids[point] = None  # the point hook records it no more
        return self.point_index[point]

    def recorded_store(self, point: str, region: str) -> Callable[[int, int], None] | None:
        """`store(index, value)` writing word `index` of `region`, recorded as `point`."""
        event = self._record_at_access(point)
        if event is None:
            return None
        nwords = len(self.seg.words(region))
        return self.recorder.store_at(event, self.seg.address(region), nwords)

    def recorded_find(
        self, point: str, region: str, start: int = 0
    ) -> Callable[[int, int], bool] | None:
        """`find(value, n)`: is `value` among the `n` words of `region` from word `start`?
        Recorded as `point`."""
        event = self._record_at_access(point)
        if event is None:
            return None
        nwords = len(self.seg.words(region)) - start
        return self.recorder.find_at(event, self.seg.address(region, start), max(nwords, 0))

    def lock(self, name: str) -> Any:
        if name not in self._locks:
            if name not in self.spec.locks:
                raise ConfigError(
                    f"lock {name!r} is not declared by locks(config): "
                    f"{', '.join(self.spec.locks) or 'none'}"
                )
            if not self.spec.reaches_lock(self.actor, name):
                pd = self.spec.lock_owner[name]
                raise PermissionError(
                    f"lock {name!r} belongs to PD {pd}: only PD {pd}'s actors take it "
                    f"({self.actor.name} is PD {self.actor.pd}'s)"
                )
            lock = self.gate.lock(name)
            if self.notes is not None:
                lock = self.notes.lock(lock, name)
            if self.access:
                lock = PointedLock(lock, name, self.point)
            elif self._pointed_locks:
                lock = PointedLock(lock, name, self._lock_point)
            self._locks[name] = lock
        return self._locks[name]

    def deadlocked(self, found: deadlock.Deadlock) -> None:
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
        call = self.gate.core_call(self._client.call)
        return call if self.notes is None else self.notes.around_core(call)

    def stopping(self) -> bool:
        return self.ctl[control.STOP] != 0

    _native_bridge = None  # testbed.native.bridge.Bridge, made at the first env.native()

    def native(self, name: str) -> None:
        """Call `void name(tb_env *env)` of the scenario's C sources (`Scenario.native`) in
        this process (testbed/native/bridge.py)."""
        self.reach_by_address(native=True)  # C code reaches the regions by address
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
    def _seed(self, index: int) -> int:
        """What `rng` starts from: the seed and the actor, and the iteration's index when
        the scenario iterates (a continuous run, or an explored schedule of one, starts as
        a fresh process does)."""
        seed = self.spec.seed * 1_000_003 + self.actor.index
        return seed * 1_000_000_007 + index if self.spec.iterate else seed

    def begin_iteration(self, index: int) -> None:
        """The iteration's body sees the index, and draws from `rng` what any run of this
        iteration draws (a replay of it included)."""
        self.iteration = index
        self._rng_stale = True

    @property
    def rng(self) -> random.Random:
        if self._rng_stale:
            self._rng_stale = False
            self._rng.seed(self._seed(self.iteration))
        return self._rng

    def run_body(self, scenario: Scenario) -> bool:
        """The scenario's body, once; False if it ended in a deadlock (reported by the
        cycle's first member to see it, counted as the scenario's `deadlock` outcome if it
        declares one; the run stops and fails, naming the cycle), or waiting on one (the
        reporter named who waits on the cycle)."""
        try:
            scenario.run_actor(self, self.actor)
        except deadlock.Deadlock:
            return False
        except deadlock.WaitsOnDeadlock:
            return False  # the cycle's reporter named this wait
        return True

    def end_body(self) -> bool:
        """After an iteration's body: it may hold no lock; the last actor to get here runs
        the arbiter. Answers whether this actor was the last."""
        held = diagnosis.locks_held(self.spec, self.seg, self.actor.index) if self._locks else []
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
        if self.notes is not None:
            self.notes.outcome(outcome)
        slot[stats.COUNTS + k] += n
        slot[stats.ATTEMPTS] += n
        if at and not slot[stats.DETECTED + k]:
            slot[stats.DETECTED + k] = self.point_index[at] + 1
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
            try:
                capture.write_trace(
                    self.spec, self.seg, self.actor.name, outcome, ticket, claimed, self.iteration
                )
            except OSError:  # a full disk: no file, and the runner lists it as not written
                pass
        else:  # the runner has the run's history: it writes the trace
            k = self._outcome_index[outcome]
            capture.request(self.seg, claimed, self.actor.index, k, ticket)

    def done(self) -> None:
        """The body (or the iterations) ended: the counts the runner reads."""
        if self.notes is not None:
            self.notes.close()
        counts = psutil.Process().num_ctx_switches()
        self.slot[stats.VCS], self.slot[stats.IVCS] = counts.voluntary, counts.involuntary
        self.slot[stats.DONE] = 1


class BodyError(RuntimeError):
    """An iteration's body broke the iteration's contract (exit 3)."""


def main(spec: RunSpec, index: int) -> None:
    actor = spec.actors[index]
    # its own PD's regions, no other's; the read-only ones read-only
    seg = process.enter(spec, actor.name, [actor.pd], protect=True)
    slot = seg.words("stats")[stats.WORDS * index : stats.WORDS * (index + 1)]
    slot[stats.PID] = os.getpid()
    ctl = seg.words("control")
    try:
        scenario = loader.load(spec.scenario)
        env = Env(spec, actor, seg, scenario)
        Atomics().fetch_add(seg.address("control", control.READY), 1)
        while not ctl[control.START_NS] and not ctl[control.STOP]:
            time.sleep(0.0005)  # all actors start together, when the runner's clock does
        env.gate.live(scenario)
        slot[stats.DONE] = 1  # the body returned: an exit before this is a failure (exit 3)
    except SystemExit as e:  # sys.exit() in the body: it never returned
        slot[stats.ERROR_NS] = time.monotonic_ns()
        stats.write_error(slot, f"{actor.name}: the body called sys.exit({e.code!r})")
        ctl[control.ABORT] = 1
        sys.exit(3)
    except Exception as e:  # every failure ends the run as aborted, with its reason
        slot[stats.ERROR_NS] = time.monotonic_ns()
        stats.write_error(slot, f"{actor.name}: {type(e).__name__}: {e}")
        ctl[control.ABORT] = 1
        sys.exit(3)
