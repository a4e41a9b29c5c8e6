"""The runner's side of a run: creates the named objects, starts core and the actors,
supervises them, collects the result, and unlinks everything whatever happens (Ctrl-C, a
crashed child)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import multiprocess
import multiprocess.connection
import posix_ipc

from testbed.harness import (
    actor,
    capture,
    core_server,
    diagnosis,
    hog,
    iteration,
    loader,
    options,
    perturb,
    result,
    stats,
)
from testbed.harness.history import History
from testbed.harness.scheduler import ScheduleError, Scheduler
from testbed.harness.script import Script
from testbed.ipc import control, mailbox, names
from testbed.ipc.locks import create_semaphore, forget, keep_open, unlink_semaphore
from testbed.ipc.segment import NoSpace, Segment, unlink_shm
from testbed.scenario import ConfigError

if TYPE_CHECKING:
    from testbed.harness.run import RunOptions
    from testbed.harness.spec import RunSpec

TICK_S = 0.05
# a continuous run that records: the runner drains the rings every 50 ms while they stay
# nearly empty between two drains, halving the interval down to 5 ms when one fills a quarter
# (draining costs the runner's CPU, which the actors share: 5% of genode-race's throughput
# across two CPUs at every 10 ms)
DRAIN_S = (0.005, 0.05)
READY_TIMEOUT_S = 60.0
STOP_GRACE_S = 2.0  # after the stop: actors end within the lock timeout plus this
STATE_CHECK_S = 0.25  # how often the runner looks for stopped children
HISTORY_EVENTS = 1_000_000  # a continuous run's history kept for its traces (16 MB)


class Aborted(RuntimeError):
    """The run could not go on (exit 3); `reasons` say why, the root cause first."""

    def __init__(self, reasons: str | list[str]):
        self.reasons = [reasons] if isinstance(reasons, str) else reasons
        super().__init__("; ".join(self.reasons))


@dataclass
class Snapshot:
    elapsed_s: float
    attempts: int
    outcomes: dict[str, int]


def _context(preload: list[str]):
    """Children fork from a clean single-threaded server (the caller may run threads: rich,
    pytest-xdist), with the harness (and a built-in scenario) already imported there."""
    ctx = multiprocess.get_context("forkserver")
    ctx.set_forkserver_preload(["testbed.harness.actor", "testbed.harness.core_server", *preload])
    _start_forkserver_deaf()
    return ctx


def _start_forkserver_deaf() -> None:
    """Start the fork server with Ctrl-C ignored, a disposition exec keeps: it imports the
    harness for up to a second, and each child forked from it inherits the server's handler,
    so a Ctrl-C while the processes start prints no child's traceback (the runner stops
    them; process.enter() ignores Ctrl-C too). The runner ignores Ctrl-C only for the fork
    and exec of the server."""
    if not _main_thread():  # signal handlers are the main thread's
        return
    from multiprocess import forkserver

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, old)


@contextmanager
def _main_set_aside():
    """While children start, the caller's main module is hidden from multiprocess: a child
    would otherwise import the user's script again (as `__mp_main__`), running its top level,
    and a plain script without `if __name__ == "__main__":` would start its run again in
    every child. The children need nothing of it: the scenario travels by reference (a
    script's file, imported up to its call of the API: loader.NestedRun), and what dill
    pickles from `__main__` it pickles by value."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    saved = {k: main.__dict__[k] for k in ("__file__", "__spec__") if k in main.__dict__}
    main.__dict__.pop("__file__", None)
    main.__spec__ = None
    try:
        yield
    finally:
        main.__dict__.update(saved)
        if "__spec__" not in saved:
            del main.__spec__


def _sigterm(signum, frame):
    raise KeyboardInterrupt


class Supervisor:
    def __init__(self, spec: RunSpec, opts: RunOptions):
        self.spec, self.opts = spec, opts
        self.seg: Segment | None = None
        self._hold: int | None = None  # the flock that tells `testbed clean` the run lives
        self.procs: dict[str, Any] = {}
        self._ended: dict[str, int] = {}  # child -> when the runner saw it end (monotonic ns)
        self._stopped_since: dict[str, float] = {}  # child -> when it was first seen stopped
        self._stop_at: float | None = None  # when the stop flag was first seen
        self._next_state_check = 0.0
        self.controlled: tuple[int, float] | None = None  # a script's steps run, and their time
        self._gen = (-1, 0.0)  # an iterating run: the last release seen, and when
        self.writer: capture.Writer | None = None  # a continuous run's traces
        self._drain_s = 0.01  # how often the writer drains the rings (adapts, DRAIN_S)

    def go(self) -> dict[str, Any]:
        old = signal.signal(signal.SIGTERM, _sigterm) if _main_thread() else None
        error = None
        try:
            try:
                self._create()
            except NoSpace as e:  # /dev/shm filled up since prepare() looked (exit 2)
                raise ConfigError(e.strerror) from None
            try:
                self._start()
                elapsed = self._supervise()
            except Aborted as e:
                error, elapsed = e.reasons, self._elapsed()
            except ScheduleError as e:
                error, elapsed = self._with_causes(str(e)), self._elapsed()
            except KeyboardInterrupt:
                error, elapsed = "interrupted (Ctrl-C or SIGTERM)", self._elapsed()
            self._stop(error is not None)
            if self.writer is not None:
                self.writer.poll(final=True)
            return self._result(elapsed, error)
        finally:
            self._kill_all()
            core_server.cleanup(self.spec)
            for lock in self.spec.lock_owner:
                forget(self.spec.lock_sem(lock))
            if self._hold is not None:
                os.close(self._hold)
            if self.seg is not None:
                self.seg.close()
            if old is not None:
                signal.signal(signal.SIGTERM, old)

    # -- set-up ----------------------------------------------------------------------------
    def _create(self) -> None:
        spec = self.spec
        for sem, value in spec.semaphores().items():
            create_semaphore(sem, value)
        for lock in spec.lock_owner:  # a PD's own: its name goes once the actors have it
            keep_open(spec.lock_sem(lock), native_handle=False)
        self.seg = Segment.create(spec.segment_name, spec.layout)
        self._hold = names.hold(spec.segment_name)  # `testbed clean` sees the run alive
        if spec.has_core:
            mailbox.create(spec.mailbox_name, len(spec.actors))
        self.ctl = self.seg.words("control")
        self.stats = self.seg.words("stats")
        for a in spec.actors:
            self.stats[stats.WORDS * a.index + stats.FIRST_FAILURE_NS] = stats.NO_FAILURE
        self.ctl[control.MAX_FAILURES] = self.opts.max_failures
        self.opts.scenario.init_shared(self.seg, spec.config)
        if spec.record and spec.max_traces and not spec.iterate:
            history = History(self.seg, len(spec.actors), HISTORY_EVENTS)
            self.writer = capture.Writer(spec, self.seg, history)

    def _start(self) -> None:
        with _main_set_aside():
            self._start_children()

    def _start_children(self) -> None:
        ref = self.spec.scenario
        ctx = _context(
            [] if loader.is_file_ref(ref) or ":" in ref else [type(self.opts.scenario).__module__]
        )
        spec = self.spec
        core = ctx.Process(target=core_server.main, args=(spec,), name="core", daemon=True)
        self._start_deadline = time.monotonic() + READY_TIMEOUT_S
        core.start()
        self.procs["core"] = core
        for a in spec.actors:
            if time.monotonic() > self._start_deadline:  # memory or CPUs ran short
                raise Aborted(
                    f"only {len(self.procs)} of {len(spec.actors) + 1} processes started within "
                    f"{READY_TIMEOUT_S:g} s (too many actors for this machine?)"
                )
            p = ctx.Process(target=actor.main, args=(spec, a.index), name=a.name, daemon=True)
            p.start()
            self.procs[a.name] = p
        self._await_ready()
        self._unlink_private_names()
        plan = [cpus for name, cpus in spec.cpus.items() if name != "core"]
        for i in range(self.opts.hogs):
            p = ctx.Process(
                target=hog.main,
                args=(spec, plan[i % len(plan)], f"hog{i}"),
                name=f"hog{i}",
                daemon=True,
            )
            p.start()
            self.procs[f"hog{i}"] = p
        self.t0 = time.monotonic_ns()
        self.ctl[control.START_NS] = self.t0

    def _await_ready(self) -> None:
        """Start the clock only when core and every actor are up: process start-up is
        tens of milliseconds and would otherwise count as time to the first failure."""
        deadline = self._start_deadline
        while self.ctl[control.READY] < len(self.procs):
            self._check_children()
            if time.monotonic() > deadline:
                raise Aborted(
                    f"{self.ctl[control.READY]} of {len(self.procs)} processes ready after "
                    f"{READY_TIMEOUT_S:g} s (the start did not finish)"
                )
            time.sleep(0.001)

    def _unlink_private_names(self) -> None:
        """Every process has mapped the mailboxes, its PD's segment and locks, and opened its
        reply semaphore: their names go now, so no actor can open another's mailbox, map
        another PD's regions, take another PD's lock or post another's reply later (and
        nothing of them can be left behind)."""
        segments, semaphores = self.spec.private_names()
        for name in segments:
            unlink_shm(name)
        for name in semaphores:
            unlink_semaphore(name)

    # -- supervision -----------------------------------------------------------------------
    def _elapsed(self) -> float:
        return (time.monotonic_ns() - self.t0) / 1e9 if hasattr(self, "t0") else 0.0

    def _live_pids(self) -> dict[str, int]:
        return {
            name: p.pid
            for name, p in self.procs.items()
            if p.exitcode is None and not name.startswith("hog")
        }

    def _with_causes(self, reason: str) -> list[str]:
        """`reason`, after any stopped process (the likelier cause)."""
        return diagnosis.in_order(
            diagnosis.stopped(self.spec, self.seg, self._live_pids()),
            [diagnosis.Failure(0, reason)],
        )

    def _check_objects(self) -> None:
        """Abort, saying so, if the run's segment was unlinked under it (`testbed clean
        --force`, by hand): the cause of whatever its processes do next."""
        path = names.SHM_DIR / self.spec.segment_name.lstrip("/")
        if not path.exists():
            raise Aborted(
                f"the run's shared memory {path} was removed while the run was going "
                "(testbed clean --force, or by hand)"
            )

    def _check_children(self) -> None:
        """Abort if a child ended badly: every such child, in the order they failed, after
        any stopped process."""
        failures = []
        for name, p in self.procs.items():
            code = p.exitcode
            if code is None or name.startswith("hog"):
                continue
            if code == 0 and name != "core" and self._returned(name):
                continue
            seen = self._ended.setdefault(name, time.monotonic_ns())
            index = self._index(name)
            reason = self._child_error(name)
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            held = diagnosis.locks_held(self.spec, self.seg, index) if index is not None else []
            where = diagnosis.last_point(self.spec, self.seg, index) if index is not None else None
            text = f"{name} (pid {p.pid}) ended with {how} while the run was going"
            if code == 0 and name != "core":  # sys.exit(0), os._exit(0) in its body
                text = f"{name} (pid {p.pid}) ended with {how} before its body returned"
            if reason:
                text += f": {reason}"
            if where:
                text += f"; last seen at {where}"
            if held:
                text += f"; it held lock {', '.join(held)}, now lost"
            at = (diagnosis.error_time(self.seg, index) if index is not None else 0) or seen
            failures.append(diagnosis.Failure(at, text))
        if failures:
            self._check_objects()
            causes = diagnosis.stopped(self.spec, self.seg, self._live_pids())
            raise Aborted(diagnosis.in_order(causes, failures))

    def _check_stuck(self, now: float) -> None:
        """Abort if a child stays stopped (SIGSTOP, a debugger) longer than the lock timeout,
        or if actors have not ended long after the stop: no wait of the runner is unbounded."""
        if now < self._next_state_check:
            return
        self._next_state_check = now + STATE_CHECK_S
        self._check_objects()
        limit = self.spec.lock_timeout
        pids = self._live_pids()
        for name, pid in pids.items():
            if diagnosis.is_stopped(pid):
                self._stopped_since.setdefault(name, now)
            else:
                self._stopped_since.pop(name, None)
        if any(now - t > limit for t in self._stopped_since.values()):
            raise Aborted(
                [
                    f"{r} for more than {limit:g} s (--lock-timeout)"
                    for r in diagnosis.stopped(self.spec, self.seg, pids)
                ]
            )
        if self._stop_at is None and self.ctl[control.STOP]:
            self._stop_at = now
        if self._stop_at is not None and now - self._stop_at > limit + STOP_GRACE_S:
            late = [
                f"{diagnosis.describe(self.spec, self.seg, a.name, pids[a.name])} did not end "
                f"within {limit + STOP_GRACE_S:g} s of the stop; it is "
                f"{diagnosis.state(pids[a.name]) or 'gone'}"
                for a in self.spec.actors
                if a.name in pids
            ]
            raise Aborted(diagnosis.in_order(diagnosis.stopped(self.spec, self.seg, pids), [
                diagnosis.Failure(0, r) for r in late
            ]))  # fmt: skip

    def _check_iteration(self, now: float) -> None:
        """Abort if no iteration has been released for longer than the lock timeout: name
        the actors still in their body (one that never returns is never a hang)."""
        w = self.seg.words(iteration.REGION)
        gen = w[iteration.GEN]
        if gen != self._gen[0]:
            self._gen = (gen, now)
            return
        limit = self.spec.lock_timeout
        if now - self._gen[1] <= limit:
            return
        n = len(self.spec.actors)
        pids = self._live_pids()
        stuck = []
        for a in self.spec.actors:
            k = w[iteration.body_word(n, a.index)]
            if k:
                who = diagnosis.describe(self.spec, self.seg, a.name, pids.get(a.name))
                stuck.append(
                    f"{who} has not returned from its body of iteration {k - 1} after "
                    f"{limit:g} s (--lock-timeout)"
                )
        if not stuck:
            stuck = [f"no iteration was released for {limit:g} s (--lock-timeout)"]
        raise Aborted(
            diagnosis.in_order(
                diagnosis.stopped(self.spec, self.seg, pids),
                [diagnosis.Failure(0, r) for r in stuck],
            )
        )

    def _index(self, name: str) -> int | None:
        return next((a.index for a in self.spec.actors if a.name == name), None)

    def _child_error(self, name: str) -> str:
        index = len(self.spec.actors) if name == "core" else self._index(name)
        if index is None:
            return ""
        return stats.read_error(self.stats[stats.WORDS * index :][: stats.WORDS])

    def _returned(self, name: str) -> bool:
        """Did actor `name` return from its body (not end the process inside it)?"""
        index = self._index(name)
        return index is not None and bool(self.stats[stats.WORDS * index + stats.DONE])

    def _actors_done(self) -> bool:
        done = all(
            self.procs[a.name].exitcode == 0 and self._returned(a.name) for a in self.spec.actors
        )
        if done:
            self.ctl[control.STOP] = 1  # hogs go too
        return done

    def _supervise(self) -> float:
        opts = self.opts
        if opts.script is not None:
            self._check_children()
            scheduler = Scheduler(self.spec, self.seg, self._check_children)
            script = Script(scheduler)
            t0 = time.monotonic()
            try:
                if opts.stop_after_script:
                    script.replay(opts.script, opts.script_first)
                else:
                    script.drive(opts.script)
            finally:
                self.controlled = (scheduler.steps, time.monotonic() - t0)
                scheduler.close()
        deadline = None if opts.rounds else time.monotonic() + opts.duration_s
        next_progress = time.monotonic()
        while True:
            self._check_children()
            if self._actors_done():
                return self._elapsed()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.ctl[control.STOP] = 1
            self._check_stuck(now)
            if self.spec.gated:
                self._check_iteration(now)
            if self.writer is not None:
                fill = self.writer.poll()
                lo, hi = DRAIN_S
                if fill > 0.25:
                    self._drain_s = max(lo, self._drain_s / 2)
                elif fill < 0.05:
                    self._drain_s = min(hi, self._drain_s * 2)
            if opts.progress is not None and now >= next_progress:
                opts.progress(self._snapshot())
                next_progress = now + 0.25
            running = [p.sentinel for p in self.procs.values() if p.exitcode is None]
            tick = TICK_S if self.writer is None else self._drain_s
            multiprocess.connection.wait(running, tick)  # wakes at once when a child ends

    def _snapshot(self) -> Snapshot:
        t = stats.totals(self.stats, len(self.spec.actors), len(self.spec.outcomes))
        return Snapshot(
            self._elapsed(), t.attempts, dict(zip(self.spec.outcomes, t.counts, strict=True))
        )

    # -- the end ---------------------------------------------------------------------------
    def _stop(self, aborted: bool) -> None:
        self.ctl[control.STOP] = 1
        if aborted:
            self.ctl[control.ABORT] = 1
            return
        self.ctl[control.CORE_STOP] = 1
        if self.spec.has_core:
            try:
                posix_ipc.Semaphore(self.spec.doorbell).release()
            except posix_ipc.ExistentialError:  # removed under the run: core ends on its own
                pass
        self.procs["core"].join(5)

    def _kill_all(self) -> None:
        for p in self.procs.values():
            if p.exitcode is None:
                p.terminate()
        for p in self.procs.values():
            p.join(1)
            if p.exitcode is None:
                p.kill()
                p.join(1)

    def _result(self, elapsed: float, error: str | None) -> dict[str, Any]:
        spec = self.spec
        t = stats.totals(self.stats, len(spec.actors), len(spec.outcomes))
        first = None if t.first_failure_ns is None else max(0, t.first_failure_ns - self.t0) / 1e9
        config = options.document_config(spec.config)
        config.update(
            perturb=self.opts.perturb,
            points=self.opts.point_level,
            hogs=self.opts.hogs,
            record=self.opts.record,
            rounds=self.opts.rounds or None,
            duration_s=None if self.opts.rounds else self.opts.duration_s,
            pin=self.opts.pin,
            max_failures=self.opts.max_failures or None,
            reply_spin_us=spec.reply_spin_s * 1e6,
            core_spin_us=spec.core_spin_s * 1e6,
        )
        return result.document(
            scenario=self.opts.scenario,
            source=spec.scenario,
            variant=spec.variant,
            config=config,
            seed=spec.seed,
            outcomes=dict(zip(spec.outcomes, t.counts, strict=True)),
            attempts=t.attempts,
            first_failure_s=first,
            elapsed_s=elapsed,
            ctx_switches={"voluntary": t.voluntary, "involuntary": t.involuntary},
            require=self.opts.require,
            error=error,
            silent=self._silent(),
            deadlock=self._deadlock_reason(),
            extra={
                **self.opts.scenario.result_extra(self.seg, spec.config),
                "perturb": self.opts.perturb,
                **self._auto_at_first_failure(),
                "detected_at": {
                    o: spec.points[d - 1]
                    for o, d in zip(spec.outcomes, t.detected, strict=True)
                    if d
                },
                **({"deadlock": d} if (d := self._deadlock()) else {}),
                **self._controlled(),
                **self._iterations(elapsed),
                **self._traces(),
            },
        )

    def _deadlock_reason(self) -> list[str] | None:
        """A deadlock the scenario does not declare as an outcome: a failure all the same
        (exit 1), its cycle and who waited on it named. One it declares is graded as its
        outcome."""
        d = self._deadlock()
        if d is None or "deadlock" in self.spec.outcomes:
            return None
        reasons = [
            "deadlock: " + "; ".join(d.get("cycle", [])) + f" (reported by {d['reported_by']})"
        ]
        reasons += [f"{w}, who is in the deadlock" for w in d.get("waiting", [])]
        return reasons

    def _silent(self) -> list[str] | None:
        """The actors that recorded no outcome; None in an iterating scenario with an
        arbiter, which records for them (its outcomes land in whichever actor ran it)."""
        if self.spec.iterate and self.opts.scenario.has_arbiter:
            return None
        quiet = self.opts.scenario.quiet_actors
        return [
            a.name
            for a in self.spec.actors
            if a.name not in quiet and not self.stats[stats.WORDS * a.index + stats.ATTEMPTS]
        ]

    def _traces(self) -> dict[str, Any]:
        """The trace files written, and of each whether a replay can force its order (a
        trace whose history is not whole is kept, to read, but offers no replay)."""
        files, traces = [], []
        claimed = self.ctl[control.TRACES]  # traces the actors took a number for
        for n in range(self.spec.max_traces):
            path = capture.trace_path(self.spec, n)
            if self.writer is not None and n in self.writer.unwritten:
                why = self.writer.written[n]
                traces.append(
                    {"file": str(path), "replayable": False, "why": why, "written": False}
                )
                continue
            if not path.exists():
                if self.spec.iterate and n < claimed:  # its actor writes it, and did not
                    why = "its trace was not written (a full disk?, or its actor died first)"
                    traces.append(
                        {"file": str(path), "replayable": False, "why": why, "written": False}
                    )
                continue
            if path.stat().st_size == 0:  # its writing failed (a full disk): nothing to replay
                why = "the trace file is empty (its writing failed: a full disk?)"
                traces.append({"file": str(path), "replayable": False, "why": why})
                continue
            if self.writer is not None:
                why = self.writer.written.get(n)
            else:
                try:
                    whole = json.loads(path.read_text()).get("complete", False)
                    why = None if whole else "the iteration took more events than --ring-events"
                except (OSError, ValueError):
                    why = "the trace file does not read as JSON (its writing failed?)"
            if why is None:
                files.append(str(path))
            traces.append({"file": str(path), "replayable": why is None, "why": why})
        # trace_files: those a replay can force (what every report offers a replay command
        # for); traces: every trace written, and why one will not replay
        return {"trace_files": files, "traces": traces}

    def _controlled(self) -> dict[str, Any]:
        """A controlled run (a script: replay, minimize): the steps the runner let actors take,
        one at a time (first steps and the finish after the script included), a second."""
        if self.controlled is None:
            return {}
        steps, elapsed = self.controlled
        rate = steps / elapsed if elapsed > 0 else 0.0
        return {"controlled": {"steps": steps, "elapsed_s": elapsed, "steps_per_s": rate}}

    def _iterations(self, elapsed: float) -> dict[str, Any]:
        """An iterating run: iterations done, a second, and how close together the actors
        started them (the gate's spread: the release to each actor's first instruction)."""
        spec = self.spec
        if not spec.iterate:
            return {}
        w = self.seg.words(iteration.REGION)
        if not spec.gated:
            return {"iterations": int(w[iteration.DONE] == len(spec.actors))}
        done = w[iteration.COMPLETED]
        h = iteration.hist_word(len(spec.actors))
        return {
            "iterations": done,
            "iterations_per_s": done / elapsed if elapsed > 0 else 0.0,
            "start_gate": "spin" if spec.spin_start else "block",
            "start_spread": iteration.spread_summary(w[h : h + iteration.HIST_BUCKETS].tolist()),
        }

    def _auto_at_first_failure(self) -> dict[str, Any]:
        """Under --perturb auto: the strategy the first failing actor ran at its failure."""
        if self.opts.perturb != "auto":
            return {}
        firsts = [
            (self.stats[stats.WORDS * a.index + stats.FIRST_FAILURE_NS], a.index)
            for a in self.spec.actors
        ]
        ns, index = min(firsts)
        k = self.stats[stats.WORDS * index + stats.STRATEGY]
        if ns == stats.NO_FAILURE or not k:
            return {"auto_at_first_failure": None}
        return {"auto_at_first_failure": perturb.CATALOGUE[k - 1]}

    def _deadlock(self) -> dict[str, Any] | None:
        """The lock cycle an actor reported: its actors and the locks each waited for."""
        who = self.ctl[control.DEADLOCK]
        if not who:
            return None
        slot = self.stats[stats.WORDS * (who - 1) :][: stats.WORDS]
        doc: dict[str, Any] = {"reported_by": self.spec.actors[who - 1].name}
        try:
            doc.update(json.loads(stats.read_error(slot)))
        except ValueError:
            return doc
        actors, locks = doc.get("actors", []), doc.get("locks", [])
        doc["cycle"] = [
            f"{a} waits for {lock}, held by {actors[(k + 1) % len(actors)]}"
            for k, (a, lock) in enumerate(zip(actors, locks, strict=False))
        ]
        return doc


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
