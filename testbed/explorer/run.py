"""`testbed explore`: one iteration of a scenario under every schedule of its points with at
most K preemptions (or a sample of them), on one set of real processes reused from schedule
to schedule; its result document, and a replayable trace of each failure found."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from testbed.explorer.reduction import Footprint, Observer, reads_at
from testbed.explorer.strategies import (
    SAMPLERS,
    NotDeterministic,
    Setup,
    Strategy,
    build,
)
from testbed.harness import options as option_table
from testbed.harness import process, reuse, stats
from testbed.harness.options import MAX_PREEMPTIONS
from testbed.harness.result import (
    EXIT_ABORTED,
    EXIT_FAIL,
    EXIT_INCOMPLETE,
    EXIT_OK,
    NO_EVIDENCE,
)
from testbed.harness.run import RunOptions, prepare
from testbed.harness.scheduler import ScheduleError, Scheduler
from testbed.harness.supervisor import Aborted, Supervisor
from testbed.scenario import ConfigError, Grade, Scenario
from testbed.trace.step import FINISH
from testbed.trace.trace import DEADLOCK, Event, Trace

FOOTPRINTED = ("pos", "rff", "auto")  # samplers that steer by what steps touched
PROGRESS_EVERY_S = 0.25


@dataclass
class Progress:
    schedules: int
    budget: int  # --max-schedules: the "of how many" a sampler knows; dfs's total is unknown
    pruned: int
    failures: int
    elapsed_s: float


@dataclass
class ExploreOptions:
    scenario: Scenario
    variant: str
    config: dict[str, Any]
    ref: str = ""
    strategy: str = "dfs"
    preemptions: int | None = 2  # dfs: the bound (None: none); pct: the change points (d - 1)
    max_schedules: int = 100_000
    point_level: str = "named"  # access: every word access and lock op a point
    seed: int = 0
    reduce: bool = True  # False: no reduction, whatever `reduction` says
    reduction: str | None = None  # dfs: sleep-sets, dpor, none (None: dpor)
    reads: bool = True  # access points give a step's reads (False: unknown, a bench's baseline)
    require: list[str] = field(default_factory=list)  # outcomes to hunt, as if FORBIDDEN
    max_failures: int = 1  # stop at this many failing schedules (0: never)
    max_steps: int = 10_000  # steps a schedule may take (an actor spinning forever)
    trace_dir: str = "traces"
    pin: str = "none"
    lock_timeout_s: float = 10.0
    handoff: str = "auto"  # the step handoff: auto, one-cpu, spin or sem (ipc/handoff.py)
    cpu: int | None = None  # on one CPU: the k-th usable (--workers: the worker's); None: here
    verify: int = 0  # replays of the first failure's trace before it is offered (the CLI: 1)
    workers: int = 0  # > 0: the search split across an embedded Dask cluster (distributed.py)
    scheduler: str = ""  # tcp://HOST:PORT: across an existing Dask cluster's workers
    progress: Callable[[Progress], None] | None = None

    def method(self) -> str:
        """The reduction the search uses: sleep-sets, dpor or none."""
        if self.strategy != "dfs" or not self.reduce:
            return "none"
        return self.reduction or "dpor"  # sleep sets lose schedules under a bound

    def check(self) -> None:
        """Every option in its range (the table's checks), then the options that go together
        or not, before anything is created (ConfigError, exit 2)."""
        option_table.check_record(option_table.EXPLORE, self)
        if self.preemptions is None and self.strategy == "pct":
            raise ConfigError(
                f"--preemptions none: pct needs a number of change points (0..{MAX_PREEMPTIONS})"
            )
        if self.reduction not in (None, "none") and not self.reduce:
            raise ConfigError(f"--no-reduce with --reduction {self.reduction}: give one of them")
        if self.handoff == "one-cpu" and self.pin == "spread":
            raise ConfigError(
                "--handoff one-cpu with --pin spread: one puts every process on one CPU, the "
                "other spreads them; give one of them"
            )
        if self.reduction is not None and self.strategy != "dfs":
            raise ConfigError(
                f"--reduction {self.reduction} with --strategy {self.strategy}: only dfs reduces"
            )


@dataclass
class _Schedule:
    steps: list[tuple[int, str, bool]]  # (actor, point reached, ended on a lock)
    end: str  # "finished", "deadlock", "sleep_blocked" or "repeated"
    outcomes: list[dict[str, int]]  # per actor
    preemptions: int
    cycle: list[str] = field(default_factory=list)


def explore(opts: ExploreOptions) -> dict[str, Any]:
    """Run the exploration; its result document (exit_code 0, 1, 3 or 4 in it)."""
    opts.check()
    if opts.workers or opts.scheduler:  # the same search, split across Dask workers
        from testbed.explorer.distributed import explore_distributed

        doc = explore_distributed(opts)
    else:
        run_opts = run_options(opts)
        doc = Explorer(prepare(run_opts, reuse=True), run_opts, opts).go()
    if opts.verify and doc["trace_files"]:
        from testbed.harness.replay import verify

        verify(doc, opts.verify, opts.lock_timeout_s)
    return doc


def run_options(opts: ExploreOptions) -> RunOptions:
    """The run an exploration's processes are set up for: one iteration a schedule."""
    return RunOptions(
        opts.scenario,
        opts.variant,
        opts.config,
        ref=opts.ref,
        seed=opts.seed,
        rounds=1,
        pin=opts.pin,
        require=list(opts.require),
        lock_timeout_s=opts.lock_timeout_s,
        trace_dir=opts.trace_dir,
        point_level=opts.point_level,
        handoff=opts.handoff,
        cpu=opts.cpu,
    )


def covers(x: ExploreOptions) -> str:
    """What a `complete` search has covered: the schedules, where they may switch, and
    what the reduction leaves out."""
    bound = (
        "every schedule"
        if x.preemptions is None
        else f"every schedule with at most {x.preemptions} preemptions"
    )
    if x.point_level == "access":
        where = (
            "switching at named points, every lock acquire and release, and every access "
            "to shared words through env.words, env.bitmap and env.atomic"
        )
    else:
        where = (
            "switching at named points and every lock acquire and release only (not "
            "between two accesses of shared words: --points access)"
        )
    method = x.method()
    reduced = {
        "sleep-sets": "; one of each set of schedules that differ only in the order of "
        "independent steps (sleep sets"
        + (")" if x.preemptions is None else "; under a bound they may lose some)"),
        "dpor": "; one of each class of equivalent schedules (DPOR"
        + (")" if x.preemptions is None else ", bounded as Coons et al. 2013)"),
    }.get(method, "")
    return f"{bound} of one iteration, {where}{reduced}"


class Explorer(Supervisor):
    """The supervisor's processes, set-up and clean-up; the exploration instead of a run."""

    def __init__(self, spec, run_opts: RunOptions, opts: ExploreOptions):
        super().__init__(spec, run_opts)
        self.x = opts
        self.started = time.monotonic()
        self.strategy = self._strategy()
        self.schedules = self.steps = self.longest = self.repeated = 0
        self.histogram = {name: 0 for name in spec.outcomes}
        self.failures: list[dict[str, Any]] = []
        self.distinct: set[tuple[int, ...]] = set()
        self.search_s = 0.0
        self.handoffs = {"spun": 0, "slept": 0}  # the runner's waits for a step's end
        self.placed: dict[str, list[int]] = {}  # the CPUs each process could run on
        self.epoch = 0
        self.lock_index = {name: k for k, name in enumerate(spec.locks)}
        self.pending: list[frozenset[tuple] | None] = []
        if hasattr(self.strategy, "observe"):
            self.strategy.observe(self.pending)
        self.unjudged = 0  # finished schedules in which no outcome was recorded
        self.heard: set[str] = set()  # actors that recorded an outcome in some schedule

    def _strategy(self) -> Strategy:
        x = self.x
        setup = Setup(
            x.preemptions, x.method(), x.seed, x.scenario.expected_steps(self.spec.config)
        )
        return build(x.strategy, setup)

    # -- the search ------------------------------------------------------------------------
    def _supervise(self) -> float:
        """The same processes for every schedule: reset the shared state, launch the actors
        to their first points, then let the strategy choose each step."""
        self._check_children()
        self.scheduler = Scheduler(self.spec, self.seg, self._check_children, reused=True)
        self.reset = reuse.Reset(self.spec, self.seg, self.x.scenario, self._check_children)
        self.observer = None
        if self.x.method() != "none" or self.x.strategy in FOOTPRINTED:
            sc, config = self.x.scenario, self.spec.config
            self.observer = Observer(
                self.seg,
                list(sc.regions(config)),
                self.spec.locks,
                [a.pd for a in self.spec.actors],
                sc.core_footprint(config) if self.spec.has_core else None,
            )
        t0 = time.monotonic()
        try:
            with process.pinned(self.spec.runner_cpu):  # the children: by their spec's plan
                self._search()
                self.placed = self._placement()
            self.scheduler.stop()
        except ScheduleError as e:
            raise Aborted(str(e)) from None
        except NotDeterministic as e:
            raise Aborted(
                f"not deterministic: replaying a schedule's first steps led elsewhere ({e}); "
                "does an actor keep state from one iteration to the next, or read the time?"
            ) from None
        finally:
            self.search_s = time.monotonic() - t0
            self.reset.close()
            if self.observer is not None:
                self.observer.close()
            self.handoffs = self.scheduler.handoffs()
            self.scheduler.close()
        return self._elapsed()

    def _placement(self) -> dict[str, list[int]]:
        """The CPUs the runner and each child may run on now (the document says so)."""
        out = {"runner": sorted(os.sched_getaffinity(0))}
        for name, proc in self.procs.items():
            with contextlib.suppress(OSError):
                out[name] = sorted(os.sched_getaffinity(proc.pid))
        return out

    def _search(self) -> None:
        x, strat = self.x, self.strategy
        self.search_t0 = next_progress = time.monotonic()
        while True:
            self._tally(self._one(strat))
            if x.max_failures and len(self.failures) >= x.max_failures:
                return
            if not strat.next() or self.schedules >= x.max_schedules:
                return
            if x.progress is not None and time.monotonic() >= next_progress:
                next_progress = time.monotonic() + PROGRESS_EVERY_S
                x.progress(self._progress())

    def _tally(self, sched: _Schedule) -> None:
        """Count a schedule run and judge it; a sleep-blocked one, or one an earlier round
        of bounded DPOR ran (`repeat`), is counted apart, not judged, not of the budget."""
        if getattr(self.strategy, "repeat", False):
            sched.end = "repeated"
            self.repeated += 1
        self.schedules += sched.end not in ("sleep_blocked", "repeated")
        self.steps += len(sched.steps)
        self.longest = max(self.longest, len(sched.steps))
        self.distinct.add(tuple(a for a, _, _ in sched.steps))
        self._judge(sched)

    def _progress(self) -> Progress:
        return Progress(
            self.schedules,
            self.x.max_schedules,
            self.strategy.pruned,
            len(self.failures),
            time.monotonic() - self.search_t0,
        )

    def _one(self, strat: Strategy) -> _Schedule:
        s, observer = self.scheduler, self.observer
        self.epoch += 1
        self.reset(self.epoch)
        s.launch()
        if observer is not None:
            observer.mark()
        locks = self.spec.locks
        self.pending[:] = [reads_at(p, locks) for p in s.at]  # what each next step reads
        strat.begin()
        steps: list[tuple[int, str, bool]] = []
        for depth in range(self.x.max_steps):
            enabled = s.enabled()
            if not enabled:
                break
            actor = strat.choose(depth, enabled)
            if actor is None:  # every actor that could go is asleep: a schedule already run
                s.abandon()
                return _Schedule(steps, "sleep_blocked", [], strat.preemptions)
            before = s.at[actor]
            reached = s.step(actor)
            footprint = None
            if observer is not None:
                reads = reads_at(before, locks) if self.x.reads else None
                named = self.x.reads and self.x.point_level == "named"
                blocked = locks[s.lock[actor]] if not reached else None
                footprint = observer.footprint(actor, reads, named, blocked)
                footprint = self._acquired(footprint, actor)
            self.pending[actor] = reads_at(reached, locks) if reached else None
            strat.stepped(depth, actor, footprint, reached)
            steps.append((actor, reached or before or FINISH, not reached))
        else:
            raise ScheduleError(
                f"a schedule passed --max-steps {self.x.max_steps} steps: does an actor wait "
                "in a loop for another? (raise --max-steps if the iteration is that long)"
            )
        outcomes = self._outcomes()
        if s.finished():
            return _Schedule(steps, "finished", outcomes, strat.preemptions)
        names = s.names
        cycle = [
            f"{names[a]} waits for {lock}, held by {names[h] if h >= 0 else 'nobody'}"
            for a, lock, h in s.wait_for()
        ]
        s.abandon()
        return _Schedule(steps, "deadlock", outcomes, strat.preemptions, cycle)

    def _acquired(self, footprint: Footprint, actor: int) -> Footprint:
        """Mark the locks the step left held by its actor (`("acq", L)`): DPOR reverses two
        acquisitions of a lock, though a release orders them (dpor.py)."""
        held = [
            ("acq", w[1])
            for w in footprint.writes
            if w[0] == "lock" and self.scheduler.holder(self.lock_index[w[1]]) == actor
        ]
        if not held:
            return footprint
        return replace(footprint, writes=footprint.writes | frozenset(held))

    def _outcomes(self) -> list[dict[str, int]]:
        """Per actor: the outcomes it recorded in this schedule."""
        out = []
        for i in range(len(self.spec.actors)):
            slot = self.stats[stats.WORDS * i :][: stats.WORDS]
            out.append(
                {
                    name: slot[stats.COUNTS + k]
                    for k, name in enumerate(self.spec.outcomes)
                    if slot[stats.COUNTS + k]
                }
            )
        return out

    def _judge(self, sched: _Schedule) -> None:
        if sched.end in ("sleep_blocked", "repeated"):
            return
        seen: dict[str, str] = {}  # outcome -> the first actor that recorded it
        for i, counts in enumerate(sched.outcomes):
            for name in counts:
                seen.setdefault(name, self.spec.actors[i].name)
        for name in seen:
            self.histogram[name] += 1
        if sched.end == "finished" and not seen:
            self.unjudged += 1
        self.heard.update(self.spec.actors[i].name for i, c in enumerate(sched.outcomes) if c)
        grades = self.x.scenario.grades(self.spec.variant)
        bad = [
            n
            for n in self.spec.outcomes
            if n in seen and (grades[n] is Grade.FORBIDDEN or n in self.x.require)
        ]
        if sched.end == "deadlock":
            self._failure(sched, DEADLOCK, "FORBIDDEN", "")
        elif bad:
            self._failure(sched, bad[0], grades[bad[0]].value, seen[bad[0]])

    def _failure(self, sched: _Schedule, outcome: str, grade: str, actor: str) -> None:
        names = [a.name for a in self.spec.actors]
        events = [
            Event(k, names[a], "point", point, optional=blocked)
            for k, (a, point, blocked) in enumerate(sched.steps)
        ]
        if actor:
            events.append(Event(len(events), actor, "outcome", outcome))
        trace = Trace(
            scenario=self.x.scenario.name,
            source=self.spec.scenario,
            variant=self.spec.variant,
            config=option_table.document_config(self.spec.config),
            seed=self.spec.seed,
            actors=names,
            outcome=outcome,
            detected_by=actor,
            rounds=1,
            iteration=self.spec.first_iteration if self.spec.iterate else None,
            order="step",
            points=self.x.point_level,
            events=events,
        )
        token = self.spec.prefix.rsplit(".", 1)[-1]
        path = Path(self.x.trace_dir) / (
            f"{self.x.scenario.name}.{self.spec.variant}.explore.{self.spec.seed}.{token}."
            f"{len(self.failures)}.json"
        )
        trace.save(path)
        failure: dict[str, Any] = {
            "outcome": outcome,
            "grade": grade,
            "actor": actor or None,
            "schedule": self.schedules,  # 1-based: the schedule that showed it
            "steps": len(sched.steps),
            "preemptions": sched.preemptions,
            "trace_file": str(path),
        }
        if sched.cycle:
            failure["cycle"] = sched.cycle
        self.failures.append(failure)

    # -- the document ------------------------------------------------------------------------
    def _silent(self) -> list[str]:
        """Why the exploration checked nothing, or not everything: no schedule recorded an
        outcome, or an actor recorded none in any (not asked with an arbiter, which records
        for them, nor of the scenario's quiet_actors). Schedules that finished with no
        outcome are counted in the document (`schedules_without_outcome`)."""
        out = []
        if self.schedules and not any(self.histogram.values()):
            out.append(
                "no evidence: no schedule recorded an outcome, so nothing was checked (does "
                "the body call env.record, or the arbiter run?)"
            )
        sc = self.x.scenario
        if self.schedules and not (self.spec.iterate and sc.has_arbiter):
            quiet = [
                a.name
                for a in self.spec.actors
                if a.name not in self.heard and a.name not in sc.quiet_actors
            ]
            if quiet:
                out.append(
                    f"no evidence from {', '.join(quiet)}: recorded no outcome in any "
                    "schedule (does its body call env.record?)"
                )
        return out

    def _result(self, elapsed: float, error: str | list[str] | None) -> dict[str, Any]:
        x, strat = self.x, self.strategy
        config = option_table.document_config(self.spec.config)
        rate = self.schedules / self.search_s if self.search_s > 0 else 0.0
        step_rate = self.steps / self.search_s if self.search_s > 0 else 0.0
        reasons: list[str] = []
        # a --require'd outcome is hunted as a failure is (its trace written, the search
        # stopped), but finding it is what was asked: exit 0, as in stress
        forbidden = [f for f in self.failures if f["outcome"] not in x.require]
        missing = [r for r in x.require if not any(f["outcome"] == r for f in self.failures)]
        silent = self._silent()
        if error is not None:
            verdict, code = "aborted", EXIT_ABORTED
            reasons = [error] if isinstance(error, str) else list(error)
        elif forbidden:
            verdict, code = "fail", EXIT_FAIL
            reasons = [
                f"{f['outcome']} in schedule {f['schedule']} ({f['grade']}): {f['trace_file']}"
                for f in forbidden
            ]
        elif self.failures and not missing:
            verdict, code = "pass", EXIT_OK
            reasons = [
                f"required {f['outcome']} found in schedule {f['schedule']}: {f['trace_file']}"
                for f in self.failures
            ]
        elif silent:
            verdict, code, reasons = NO_EVIDENCE, EXIT_ABORTED, silent
        elif strat.complete:
            verdict, code = ("fail", EXIT_FAIL) if missing else ("pass", EXIT_OK)
            reasons = [f"required outcome {r} never seen in any schedule" for r in missing]
        else:
            verdict, code = "incomplete", EXIT_INCOMPLETE
            reasons = [
                f"--max-schedules {x.max_schedules} ran out before every schedule was run"
                if x.strategy not in SAMPLERS
                else f"{x.strategy} samples schedules: it never completes (--max-schedules {x.max_schedules})"
            ]
        return {
            "command": "explore",
            "scenario": x.scenario.name,
            "source": self.spec.scenario,  # how to load it again (a replay command names it)
            "variant": self.spec.variant,
            "config": config,
            "seed": self.spec.seed,
            "strategy": x.strategy,
            "points": x.point_level,
            "preemption_bound": x.preemptions if x.strategy in ("dfs", "pct", "auto") else None,
            "reduction": x.method(),
            "max_schedules": x.max_schedules,
            "schedules": self.schedules,
            "distinct_schedules": len(self.distinct),
            "pruned": strat.pruned,
            "sleep_blocked": getattr(strat, "sleep_blocked", 0),
            "repeated": self.repeated,
            "complete": strat.complete and error is None,
            "covers": covers(self.x),  # what `complete` means here
            "schedules_without_outcome": self.unjudged,
            "steps": self.steps,
            "longest_schedule": self.longest,
            "outcomes": self.histogram,
            "grades": {k: g.value for k, g in x.scenario.grades(self.spec.variant).items()},
            "failures": self.failures,
            "trace_files": [f["trace_file"] for f in self.failures],
            "required": list(x.require),
            "elapsed_s": self.search_s,
            "wall_s": time.monotonic() - self.started,
            "schedules_per_s": rate,
            "steps_per_s": step_rate,
            # how steps were handed over, and how the runner's waits were answered
            "handoff": {
                "mode": x.handoff,
                "one_cpu": self.spec.runner_cpu,  # the search's CPU, or None: spread
                "spin_us": self.spec.step_spin_s * 1e6,
                "cpus": self.placed,
                **self.handoffs,
            },
            "verdict": verdict,
            "reasons": reasons,
            "exit_code": code,
        }
