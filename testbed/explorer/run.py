"""`testbed explore`: one iteration of a scenario under every schedule of its points with at
most K preemptions (or a sample of them), on one set of real processes reused from schedule
to schedule; its result document, and a replayable trace of each failure found."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.explorer.reduction import Observer, reads_at
from testbed.explorer.strategies import (
    NotDeterministic,
    Setup,
    Strategy,
    build,
)
from testbed.harness import options as option_table
from testbed.harness import reuse, stats
from testbed.harness.options import MAX_PREEMPTIONS
from testbed.harness.run import RunOptions, prepare
from testbed.harness.scheduler import ScheduleError, Scheduler
from testbed.harness.supervisor import Aborted, Supervisor
from testbed.scenario import ConfigError, Grade, Scenario
from testbed.trace.step import FINISH
from testbed.trace.trace import DEADLOCK, Event, Trace

EXIT_INCOMPLETE = 4  # the budget ran out before every schedule was run, no failure found
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
    reduction: str | None = None  # dfs: sleep-sets, dpor, none (None: dpor with no bound)
    reads: bool = True  # access points give a step's reads (False: unknown, a bench's baseline)
    require: list[str] = field(default_factory=list)  # outcomes to hunt, as if FORBIDDEN
    max_failures: int = 1  # stop at this many failing schedules (0: never)
    max_steps: int = 10_000  # steps a schedule may take (an actor spinning forever)
    trace_dir: str = "traces"
    pin: str = "none"
    lock_timeout_s: float = 10.0
    workers: int = 0  # > 0: the search split across an embedded Dask cluster (distributed.py)
    scheduler: str = ""  # tcp://HOST:PORT: across an existing Dask cluster's workers
    progress: Callable[[Progress], None] | None = None

    def method(self) -> str:
        """The reduction the search uses: sleep-sets, dpor or none."""
        if self.strategy != "dfs" or not self.reduce:
            return "none"
        if self.reduction is not None:
            return self.reduction
        return "dpor" if self.preemptions is None else "sleep-sets"

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
        if self.reduction is not None and self.strategy != "dfs":
            raise ConfigError(
                f"--reduction {self.reduction} with --strategy {self.strategy}: only dfs reduces"
            )
        if self.method() == "dpor" and self.preemptions is not None:
            raise ConfigError(
                f"--reduction dpor with --preemptions {self.preemptions}: DPOR needs "
                "--preemptions none (a bound breaks its completeness; use sleep-sets)"
            )


@dataclass
class _Schedule:
    steps: list[tuple[int, str, bool]]  # (actor, point reached, ended on a lock)
    end: str  # "finished", "deadlock" or "sleep_blocked"
    outcomes: list[dict[str, int]]  # per actor
    preemptions: int
    cycle: list[str] = field(default_factory=list)


def explore(opts: ExploreOptions) -> dict[str, Any]:
    """Run the exploration; its result document (exit_code 0, 1, 3 or 4 in it)."""
    opts.check()
    if opts.workers or opts.scheduler:  # the same search, split across Dask workers
        from testbed.explorer.distributed import explore_distributed

        return explore_distributed(opts)
    run_opts = run_options(opts)
    spec = prepare(run_opts, reuse=True)
    return Explorer(spec, run_opts, opts).go()


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
    )


class Explorer(Supervisor):
    """The supervisor's processes, set-up and clean-up; the exploration instead of a run."""

    def __init__(self, spec, run_opts: RunOptions, opts: ExploreOptions):
        super().__init__(spec, run_opts)
        self.x = opts
        self.started = time.monotonic()
        self.strategy = self._strategy()
        self.schedules = self.steps = self.longest = 0
        self.histogram = {name: 0 for name in spec.outcomes}
        self.failures: list[dict[str, Any]] = []
        self.distinct: set[tuple[int, ...]] = set()
        self.search_s = 0.0
        self.epoch = 0

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
        if self.x.method() != "none":
            regions = list(self.x.scenario.regions(self.spec.config))
            self.observer = Observer(self.seg, regions, self.spec.locks)
        t0 = time.monotonic()
        try:
            self._search()
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
            self.scheduler.close()
        return self._elapsed()

    def _search(self) -> None:
        x, strat = self.x, self.strategy
        self.search_t0 = next_progress = time.monotonic()
        while True:
            sched = self._one(strat)
            self.schedules += 1
            self.steps += len(sched.steps)
            self.longest = max(self.longest, len(sched.steps))
            self.distinct.add(tuple(a for a, _, _ in sched.steps))
            self._judge(sched)
            if x.max_failures and len(self.failures) >= x.max_failures:
                return
            if not strat.next() or self.schedules >= x.max_schedules:
                return
            if x.progress is not None and time.monotonic() >= next_progress:
                next_progress = time.monotonic() + PROGRESS_EVERY_S
                x.progress(self._progress())

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
                reads = reads_at(before, self.spec.locks) if self.x.reads else None
                footprint = observer.footprint(reads)
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
        if sched.end == "sleep_blocked":
            return
        seen: dict[str, str] = {}  # outcome -> the first actor that recorded it
        for i, counts in enumerate(sched.outcomes):
            for name in counts:
                seen.setdefault(name, self.spec.actors[i].name)
        for name in seen:
            self.histogram[name] += 1
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
    def _result(self, elapsed: float, error: str | list[str] | None) -> dict[str, Any]:
        x, strat = self.x, self.strategy
        config = option_table.document_config(self.spec.config)
        rate = self.schedules / self.search_s if self.search_s > 0 else 0.0
        step_rate = self.steps / self.search_s if self.search_s > 0 else 0.0
        reasons: list[str] = []
        if error is not None:
            verdict, code = "aborted", 3
            reasons = [error] if isinstance(error, str) else list(error)
        elif self.failures:
            verdict, code = "fail", 1
            reasons = [
                f"{f['outcome']} in schedule {f['schedule']} ({f['grade']}): {f['trace_file']}"
                for f in self.failures
            ]
        elif strat.complete:
            verdict, code = "pass", 0
        else:
            verdict, code = "incomplete", EXIT_INCOMPLETE
            reasons = [
                f"--max-schedules {x.max_schedules} ran out before every schedule was run"
                if x.strategy == "dfs"
                else f"{x.strategy} samples schedules: it never completes (--max-schedules {x.max_schedules})"
            ]
        return {
            "command": "explore",
            "scenario": x.scenario.name,
            "variant": self.spec.variant,
            "config": config,
            "seed": self.spec.seed,
            "strategy": x.strategy,
            "points": x.point_level,
            "preemption_bound": x.preemptions if x.strategy != "random" else None,
            "reduction": x.method(),
            "max_schedules": x.max_schedules,
            "schedules": self.schedules,
            "distinct_schedules": len(self.distinct),
            "pruned": strat.pruned,
            "sleep_blocked": getattr(strat, "sleep_blocked", 0),
            "complete": strat.complete and error is None,
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
            "verdict": verdict,
            "reasons": reasons,
            "exit_code": code,
        }
