"""Runs one experiment: creates the named objects, starts core and the actors, supervises,
collects the result, and unlinks everything whatever happens (Ctrl-C, a crashed child)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import multiprocess
import multiprocess.connection
import posix_ipc
import psutil

from . import (
    actor,
    capture,
    core_server,
    hog,
    mailbox,
    names,
    perturb,
    recorder,
    result,
    schedule,
    stats,
)
from .locks import create_semaphore
from .scenario import ConfigError, Scenario
from .schedule import Controller, ScheduleError, Step
from .segment import Layout, Segment
from .spec import ActorSpec, RunSpec

PINS = ("same", "spread", "none")
TICK_S = 0.05


class Aborted(RuntimeError):
    """The run could not go on (exit 3); the message says why."""


@dataclass
class Snapshot:
    elapsed_s: float
    attempts: int
    outcomes: dict[str, int]


@dataclass
class RunOptions:
    scenario: Scenario
    variant: str
    config: dict[str, Any]
    seed: int = 0
    rounds: int = 0  # 0: run for `duration_s`
    duration_s: float = 2.0
    pin: str = "none"
    max_failures: int = 0
    require: list[str] = field(default_factory=list)
    core_log: str | None = None
    reply_spin_us: float | None = None  # None: spin only when processes can run in parallel
    core_spin_us: float | None = None
    lock_timeout_s: float = 10.0
    script: list[Step] | None = None  # force an interleaving at schedule points
    progress: Callable[[Snapshot], None] | None = None
    record: bool = False  # schedule-point events into rings; traces of interesting outcomes
    # (the CLI records by default: it costs 7-40% of throughput, not time to first failure)
    ring_events: int = recorder.DEFAULT_RING_EVENTS
    perturb: str = "none"
    hogs: int = 0  # CPU-hog processes on the actors' CPUs
    trace_dir: str = "traces"
    max_traces: int = 3
    stop_after_script: bool = False  # replay: actors stop once the script is done ...
    script_first: str = ""  # ... and this actor finishes first (the one that saw the outcome)


def cpu_plan(pin: str, actors: list[ActorSpec]) -> dict[str, list[int] | None]:
    """Process name -> CPUs. `same`: all on one CPU (the report's single-core board);
    `spread`: core on the first CPU, actors round-robin starting on the next."""
    if pin not in PINS:
        raise ConfigError(f"--pin {pin!r}: expected one of {', '.join(PINS)}")
    cpus = sorted(psutil.Process().cpu_affinity())
    plan: dict[str, list[int] | None] = {"core": None}
    for a in actors:
        plan[a.name] = None
    if pin == "same":
        plan = {k: [cpus[0]] for k in plan}
    elif pin == "spread":
        plan["core"] = [cpus[0]]
        for a in actors:
            plan[a.name] = [cpus[(a.index + 1) % len(cpus)]]
    return plan


def _parallel(plan: dict[str, list[int] | None]) -> bool:
    """Can two of the run's processes be on CPUs at once? Spinning pays only then."""
    used = set()
    for cpus in plan.values():
        used.update(cpus if cpus is not None else psutil.Process().cpu_affinity())
    return len(used) > 1


READY_TIMEOUT_S = 60.0


def _context(scenario: Scenario):
    """Children fork from a clean single-threaded server (the caller may run threads: rich,
    pytest-xdist), with the harness and the scenario already imported there."""
    ctx = multiprocess.get_context("forkserver")
    ctx.set_forkserver_preload(["testbed.actor", "testbed.core_server", type(scenario).__module__])
    return ctx


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def run(opts: RunOptions) -> dict[str, Any]:
    sc = opts.scenario
    if opts.variant not in sc.variants:
        raise ConfigError(f"--variant {opts.variant!r}: expected one of {', '.join(sc.variants)}")
    for name in opts.require:
        if name not in [o.name for o in sc.outcomes]:
            raise ConfigError(
                f"--require {name!r}: expected one of {', '.join(o.name for o in sc.outcomes)}"
            )
    perturb.parse(opts.perturb)  # bad strategies fail here, before anything is created
    if opts.record and (
        opts.ring_events & (opts.ring_events - 1) or not 1 << 10 <= opts.ring_events <= 1 << 22
    ):
        raise ConfigError(
            f"--ring-events {opts.ring_events}: expected a power of two, 1024..4194304"
        )
    if not 0 <= opts.hogs <= 64:
        raise ConfigError(f"--hogs {opts.hogs}: expected 0..64")
    actors = [ActorSpec(i, n, p) for i, (n, p) in enumerate(sc.actors(opts.config))]
    plan = cpu_plan(opts.pin, actors)
    parallel = _parallel(plan)
    default_spin = 50.0 if parallel else 0.0
    reply_spin = default_spin if opts.reply_spin_us is None else opts.reply_spin_us
    core_spin = default_spin if opts.core_spin_us is None else opts.core_spin_us

    layout = Layout()
    mailbox.add_regions(layout, len(actors))
    layout.add_words("stats", stats.WORDS * len(actors))
    if opts.script is not None:
        layout.add_words("sched", schedule.SCHED_WORDS * len(actors))
    if opts.record:
        recorder.add_regions(layout, len(actors), opts.ring_events)
    for region, nwords in sc.regions(opts.config).items():
        layout.add_words(region, nwords)

    spec = RunSpec(
        prefix=names.new_prefix(),
        scenario=sc.name,
        variant=opts.variant,
        config=dict(opts.config, variant=opts.variant),
        seed=opts.seed,
        layout=layout,
        actors=actors,
        locks=sc.locks(opts.config),
        outcomes=[o.name for o in sc.outcomes],
        rounds=opts.rounds,
        cpus=plan,
        reply_spin_s=reply_spin * 1e-6,
        core_spin_s=core_spin * 1e-6,
        lock_timeout=opts.lock_timeout_s,
        controlled=opts.script is not None,
        points=list(sc.points),
        core_log=opts.core_log,
        record=opts.record,
        ring_events=opts.ring_events,
        perturb=opts.perturb,
        expected_steps=sc.expected_steps(opts.config),
        trace_dir=opts.trace_dir,
        max_traces=opts.max_traces if opts.record else 0,
    )
    return _Run(spec, opts).go()


class _Run:
    def __init__(self, spec: RunSpec, opts: RunOptions):
        self.spec, self.opts = spec, opts
        self.seg: Segment | None = None
        self.procs: dict[str, Any] = {}

    def go(self) -> dict[str, Any]:
        old = signal.signal(signal.SIGTERM, _sigterm) if _main_thread() else None
        error = None
        try:
            self._create()
            try:
                self._start()
                elapsed = self._supervise()
            except (Aborted, ScheduleError) as e:
                error, elapsed = str(e), self._elapsed()
            except KeyboardInterrupt:
                error, elapsed = "interrupted (Ctrl-C or SIGTERM)", self._elapsed()
            self._stop(error is not None)
            return self._result(elapsed, error)
        finally:
            self._kill_all()
            core_server.cleanup(self.spec)
            if self.seg is not None:
                self.seg.close()
            if old is not None:
                signal.signal(signal.SIGTERM, old)

    # -- set-up ----------------------------------------------------------------------------
    def _create(self) -> None:
        spec = self.spec
        for sem, value in spec.semaphores().items():
            create_semaphore(sem, value)
        self.seg = Segment.create(spec.segment_name, spec.layout)
        self.control = self.seg.words("control")
        self.stats = self.seg.words("stats")
        for a in spec.actors:
            self.stats[stats.WORDS * a.index + stats.FIRST_FAILURE_NS] = stats.NO_FAILURE
        self.control[mailbox.MAX_FAILURES] = self.opts.max_failures
        self.opts.scenario.init_shared(self.seg, spec.config)

    def _start(self) -> None:
        ctx = _context(self.opts.scenario)
        spec = self.spec
        core = ctx.Process(target=core_server.main, args=(spec,), name="core", daemon=True)
        core.start()
        self.procs["core"] = core
        for a in spec.actors:
            p = ctx.Process(target=actor.main, args=(spec, a.index), name=a.name, daemon=True)
            p.start()
            self.procs[a.name] = p
        self._await_ready()
        plan = [cpus for name, cpus in spec.cpus.items() if name != "core"]
        for i in range(self.opts.hogs):
            p = ctx.Process(
                target=hog.main, args=(spec, plan[i % len(plan)]), name=f"hog{i}", daemon=True
            )
            p.start()
            self.procs[f"hog{i}"] = p
        self.t0 = time.monotonic_ns()
        self.control[mailbox.START_NS] = self.t0

    def _await_ready(self) -> None:
        """Start the clock only when core and every actor are up: process start-up is
        tens of milliseconds and would otherwise count as time to the first failure."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while self.control[mailbox.READY] < len(self.procs):
            self._check_children()
            if time.monotonic() > deadline:
                raise Aborted(f"processes not ready after {READY_TIMEOUT_S:g} s")
            time.sleep(0.001)

    # -- supervision -----------------------------------------------------------------------
    def _elapsed(self) -> float:
        return (time.monotonic_ns() - self.t0) / 1e9 if hasattr(self, "t0") else 0.0

    def _check_children(self) -> None:
        for name, p in self.procs.items():
            code = p.exitcode
            if code is None or (code == 0 and name != "core") or name.startswith("hog"):
                continue
            reason = self._child_error(name)
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            raise Aborted(
                f"{name} (pid {p.pid}) ended with {how} while the run was going"
                + (f": {reason}" if reason else "; any lock it held is lost")
            )

    def _child_error(self, name: str) -> str:
        for a in self.spec.actors:
            if a.name == name:
                slot = self.stats[stats.WORDS * a.index :][: stats.WORDS]
                return stats.read_error(slot)
        return ""

    def _actors_done(self) -> bool:
        done = all(self.procs[a.name].exitcode == 0 for a in self.spec.actors)
        if done:
            self.control[mailbox.STOP] = 1  # hogs go too
        return done

    def _supervise(self) -> float:
        opts = self.opts
        if opts.script is not None:
            self._check_children()
            controller = Controller(self.spec, self.seg)
            if opts.stop_after_script:
                controller.replay(opts.script, opts.script_first)
            else:
                controller.drive(opts.script)
        deadline = None if opts.rounds else time.monotonic() + opts.duration_s
        next_progress = time.monotonic()
        while True:
            self._check_children()
            if self._actors_done():
                return self._elapsed()
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.control[mailbox.STOP] = 1
            if opts.progress is not None and now >= next_progress:
                opts.progress(self._snapshot())
                next_progress = now + 0.25
            running = [p.sentinel for p in self.procs.values() if p.exitcode is None]
            multiprocess.connection.wait(running, TICK_S)  # wakes at once when a child ends

    def _snapshot(self) -> Snapshot:
        t = stats.totals(self.stats, len(self.spec.actors), len(self.spec.outcomes))
        return Snapshot(
            self._elapsed(), t.attempts, dict(zip(self.spec.outcomes, t.counts, strict=True))
        )

    # -- the end ---------------------------------------------------------------------------
    def _stop(self, aborted: bool) -> None:
        self.control[mailbox.STOP] = 1
        if aborted:
            self.control[mailbox.ABORT] = 1
            return
        self.control[mailbox.CORE_STOP] = 1
        posix_ipc.Semaphore(self.spec.doorbell).release()
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
        config = {k: v for k, v in spec.config.items() if k != "variant"}
        config.update(
            perturb=self.opts.perturb,
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
            extra={
                **self.opts.scenario.result_extra(self.seg, spec.config),
                "perturb": self.opts.perturb,
                "detected_at": {
                    o: spec.points[d - 1]
                    for o, d in zip(spec.outcomes, t.detected, strict=True)
                    if d
                },
                "trace_files": [
                    str(p)
                    for n in range(spec.max_traces)
                    if (p := capture.trace_path(spec, n)).exists()
                ],
            },
        )


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
