"""`testbed explore --workers N` / `--scheduler tcp://HOST:PORT`: the depth-first search split
by prefixes across Dask workers, each with its own processes, as many schedules as one.

The stateless search (dfs.py) keeps the current schedule as a stack of nodes; a node holds the
choices tried there and the footprints of their first steps, so the rest of the search below
any node is a pure function of the stack up to it. A **unit** is such a stack and a floor: run
every schedule below it, backtracking no higher than the floor. The root unit is the whole
search. A unit that runs past its slice hands back what is left as units: the untried siblings
at each node from its floor up (each a unit with that node as its floor, its sleep set made
from the siblings tried before it, exactly as one search would make it), and the rest of its
own branch. Units are Dask tasks: the scheduler gives a queued one to whichever worker is free
and steals queued ones for a worker that runs dry; the coordinator splits only while fewer
units wait than there are workers. Every schedule, pruned branch and sleep-blocked schedule is
counted in exactly one unit, so a complete search counts what one worker counts.

Each worker process keeps one `_Session` an exploration: an Explorer whose processes start on
the first unit and stay up until the coordinator closes the session. Failures' traces are
written in the worker and sent back whole; the coordinator saves them in `--trace-dir`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import queue
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from testbed.explorer.run import (
    EXIT_INCOMPLETE,
    PROGRESS_EVERY_S,
    ExploreOptions,
    Explorer,
    Progress,
    covers,
    run_options,
)
from testbed.explorer.strategies.dfs import Dfs, Node
from testbed.harness import loader
from testbed.harness.run import prepare
from testbed.scenario import ConfigError

FIRST_SCHEDULES = 8  # the root unit comes back after these, split, so every worker has work
SLICE_S = 0.5  # a unit hands back what is left after this long (split if a worker is idle)
SESSION_TIMEOUT_S = 120.0  # a worker's processes start within this


@dataclass
class Unit:
    """Every schedule below `stack` (the last node's last tried choice is the next to run),
    backtracking at depths >= `floor` only; at most `budget` schedules, `slice_s` seconds."""

    stack: list[Node]
    floor: int
    budget: int
    slice_s: float
    max_failures: int


class Subtree(Dfs):
    """The depth-first search below a unit's floor; `rest` splits what it has not run."""

    def __init__(self, bound: int | None, reduce: bool, unit: Unit):
        super().__init__(bound, reduce)
        self.stack, self.floor = unit.stack, unit.floor

    def next(self) -> bool:
        while len(self.stack) > self.floor:
            choices = untried(self.stack[-1], self.bound)
            if choices:
                self.stack[-1].tried.append(choices[0])
                return True
            self.stack.pop()
        self.complete = True
        return False

    def rest(self) -> tuple[list[Node], int]:
        """After `next()` answered True: the search left, as a (stack, floor) unit."""
        return copy.deepcopy(self.stack), self.floor


def untried(node: Node, bound: int | None) -> list[int]:
    """The choices at `node` no schedule has taken yet, in the order dfs takes them."""
    return [a for a in node.candidates(bound) if a not in node.tried and a not in node.sleep]


def split(stack: list[Node], floor: int, bound: int | None) -> list[tuple[list[Node], int]]:
    """A unit's search as several: the untried siblings of each node from the floor up to
    the top's parent (each with that node as its floor, shallowest first), then the top's
    own branch with the top as its floor. Their union is the unit's search, each schedule
    in one of them, each sleep set made from the same siblings as in one search."""
    top = len(stack) - 1
    parts = []
    for d in range(floor, top):
        choices = untried(stack[d], bound)
        if choices:
            node = copy.deepcopy(stack[d])
            node.tried.append(choices[0])
            parts.append((stack[:d] + [node], d))
    return [*parts, (stack, max(floor, top))]


# -- the worker's side ---------------------------------------------------------------------
class _WorkerExplorer(Explorer):
    """An Explorer whose search runs the units its session hands it, one at a time."""

    def __init__(self, spec, run_opts, opts: ExploreOptions, session: _Session):
        super().__init__(spec, run_opts, opts)
        self.session = session

    def _search(self) -> None:
        self.session.ready.set()
        while True:
            unit = self.session.inbox.get()
            if unit is None:
                return
            self.session.outbox.put(("done", self._unit(unit)))

    def _unit(self, unit: Unit) -> dict[str, Any]:
        x = self.x
        strat = Subtree(x.preemptions, x.method() == "sleep-sets", unit)
        self.strategy = strat
        self.schedules = self.steps = self.longest = 0
        self.histogram = dict.fromkeys(self.spec.outcomes, 0)
        self.failures, self.distinct = [], set()
        t0 = time.monotonic()
        rest: tuple[list[Node], int] | None = None
        while True:
            sched = self._one(strat)
            self.schedules += sched.end != "sleep_blocked"  # as one explorer counts
            self.steps += len(sched.steps)
            self.longest = max(self.longest, len(sched.steps))
            self.distinct.add(tuple(a for a, _, _ in sched.steps))
            self._judge(sched)
            stop = unit.max_failures and len(self.failures) >= unit.max_failures
            if not strat.next():
                break
            if stop or self.schedules >= unit.budget or time.monotonic() - t0 >= unit.slice_s:
                rest = strat.rest()
                break
        for f in self.failures:  # the trace goes back whole: the worker may be elsewhere
            f["trace"] = Path(f["trace_file"]).read_text()
        return {
            "schedules": self.schedules,
            "steps": self.steps,
            "longest": self.longest,
            "distinct": len(self.distinct),
            "pruned": strat.pruned,
            "sleep_blocked": strat.sleep_blocked,
            "outcomes": self.histogram,
            "failures": self.failures,
            "rest": rest,
            "seconds": time.monotonic() - t0,
        }


class _Session:
    """One exploration's Explorer in this worker process, on a thread of its own, its
    processes up from the first unit until `close`."""

    def __init__(self, job: ExploreOptions):
        self.inbox: queue.Queue[Unit | None] = queue.Queue()
        self.outbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.ready = threading.Event()
        self.ended: dict[str, Any] | None = None
        self.trace_dir = tempfile.mkdtemp(prefix="testbed-explore-")
        opts = replace(job, scenario=loader.load(job.ref), trace_dir=self.trace_dir)
        run_opts = run_options(opts)
        self.explorer = _WorkerExplorer(prepare(run_opts, reuse=True), run_opts, opts, self)
        self.thread = threading.Thread(target=self._main, name="testbed-explore", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        try:
            doc = self.explorer.go()
        except BaseException as e:  # noqa: BLE001 - reported to the coordinator as an abort
            doc = {"verdict": "aborted", "reasons": [f"{type(e).__name__}: {e}"]}
        self.ended = doc
        self.ready.set()
        self.outbox.put(("ended", doc))

    def run(self, unit: Unit) -> tuple[str, Any]:
        if self.ended is not None:
            return "ended", self.ended
        self.inbox.put(unit)
        return self.outbox.get()

    def close(self) -> None:
        self.inbox.put(None)
        self.thread.join(SESSION_TIMEOUT_S)
        shutil.rmtree(self.trace_dir, ignore_errors=True)


_SESSIONS: dict[str, _Session] = {}
_SESSIONS_LOCK = threading.Lock()


def _session(token: str, job: ExploreOptions) -> _Session:
    with _SESSIONS_LOCK:
        if token not in _SESSIONS:
            _SESSIONS[token] = _Session(job)
        session = _SESSIONS[token]
    session.ready.wait(SESSION_TIMEOUT_S)
    return session


def open_session(token: str, job: ExploreOptions) -> str | None:
    """On every worker before the search: its processes up; None, or why they are not."""
    s = _session(token, job)
    return None if s.ended is None else "; ".join(s.ended.get("reasons", [])) or "ended"


def run_unit(token: str, job: ExploreOptions, unit: Unit) -> dict[str, Any]:
    """A Dask task: one unit on this worker's session (opened if this worker joined late)."""
    from distributed import get_worker

    kind, out = _session(token, job).run(unit)
    if kind == "ended":
        return {"aborted": out.get("reasons") or ["the worker's explorer ended"]}
    out["worker"] = get_worker().address
    return out


def close_session(token: str) -> None:
    """On every worker after the search: its processes stopped, its files removed."""
    with _SESSIONS_LOCK:
        session = _SESSIONS.pop(token, None)
    if session is not None:
        session.close()


# -- the coordinator -----------------------------------------------------------------------
def check(opts: ExploreOptions) -> None:
    """What can be split: dfs with sleep sets or no reduction (DPOR adds backtrack points to
    nodes above where it found a race, which a split subtree cannot reach)."""
    if opts.strategy != "dfs" or opts.method() == "dpor":
        what = f"--strategy {opts.strategy}" if opts.strategy != "dfs" else "dpor"
        raise ConfigError(
            f"--workers/--scheduler with {what}: only dfs with --reduction sleep-sets or none "
            "is split across workers (with --preemptions none, add --reduction sleep-sets)"
        )
    if not opts.ref:
        raise ConfigError("--workers/--scheduler: the scenario needs a name or a path to load")


@contextlib.contextmanager
def _client(opts: ExploreOptions):
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "--workers/--scheduler need Dask distributed: pip install 'testbed[campaign]'"
        ) from None
    if opts.scheduler:
        try:
            client = Client(opts.scheduler, timeout=10)
        except (OSError, TimeoutError) as e:
            raise ConfigError(
                f"--scheduler {opts.scheduler}: no Dask scheduler answered ({e})"
            ) from None
        with client:
            yield client
        return
    # worker processes (not threads: each explorer's side of a step is Python, one GIL each),
    # not daemonic, as each starts its own core and actors
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = LocalCluster(
            n_workers=opts.workers, threads_per_worker=1, processes=True,
            dashboard_address=None, scheduler_port=0, silence_logs=logging.ERROR,
        )  # fmt: skip
    with cluster, Client(cluster) as client:
        yield client


def explore_distributed(opts: ExploreOptions) -> dict[str, Any]:
    """The search of `explore`, split across Dask workers; the same result document, with
    `workers`, `units` and `per_worker` besides."""
    check(opts)
    started = time.monotonic()
    token = secrets.token_hex(4)
    job = replace(opts, scenario=None, progress=None)
    with _client(opts) as client:
        workers = len(client.scheduler_info(n_workers=-1)["workers"])
        try:
            opened = client.run(open_session, token, job)
            errors = sorted({e for e in opened.values() if e})
            doc = _Coordinator(opts, client, token, job, workers).search(errors)
        finally:
            with contextlib.suppress(Exception):
                client.run(close_session, token)
    doc["wall_s"] = time.monotonic() - started
    return doc


class _Coordinator:
    def __init__(self, opts, client, token: str, job: ExploreOptions, workers: int):
        self.x, self.client, self.token, self.job = opts, client, token, job
        self.workers = workers
        self.totals = dict.fromkeys(
            ("schedules", "steps", "distinct", "pruned", "sleep_blocked", "units"), 0
        )
        self.longest = 0
        self.outcomes = dict.fromkeys(opts.scenario.grades(opts.variant), 0)
        self.failures: list[dict[str, Any]] = []
        self.per_worker: dict[str, int] = {}
        self.pending: dict[Any, None] = {}

    def _submit(self, stack: list[Node], floor: int, slice_s: float, budget: int = 0) -> None:
        x = self.x
        left = x.max_failures - len(self.failures) if x.max_failures else 0
        budget = min(budget or x.max_schedules, x.max_schedules - self.totals["schedules"])
        unit = Unit(stack, floor, max(1, budget), slice_s, left)
        self.totals["units"] += 1
        key = f"testbed-explore-{self.token}-{self.totals['units']}"
        fut = self.client.submit(run_unit, self.token, self.job, unit, key=key, pure=False)
        self.pending[fut] = None

    def search(self, errors: list[str]) -> dict[str, Any]:
        from distributed import wait

        x = self.x
        t0 = time.monotonic()
        stopped = ""
        if not errors:
            self._submit([], 0, SLICE_S, budget=FIRST_SCHEDULES)
        next_progress = t0
        while self.pending and not errors:
            try:
                done, _ = wait(
                    list(self.pending), timeout=PROGRESS_EVERY_S, return_when="FIRST_COMPLETED"
                )
            except TimeoutError:  # none came back yet: the progress line, then wait again
                done = set()
            for fut in done:
                del self.pending[fut]
                if fut.status != "finished":
                    errors.append(f"a unit was lost: {fut.exception()!r}")
                    continue
                out = fut.result()
                if "aborted" in out:
                    errors.extend(out["aborted"])
                    continue
                self._merge(out)
                if x.max_failures and len(self.failures) >= x.max_failures:
                    stopped = "failures"
                elif self.totals["schedules"] >= x.max_schedules:
                    stopped = "budget"
                if out["rest"] is None:
                    continue
                if stopped:
                    continue
                stack, floor = out["rest"]
                parts = [(stack, floor)]
                if len(self.pending) < self.workers:  # a worker runs dry: give it a part
                    parts = split(stack, floor, x.preemptions)
                for stack, floor in parts:
                    self._submit(stack, floor, SLICE_S)
            if stopped and self.pending:
                self.client.cancel(list(self.pending), force=True)
                self.pending.clear()
            if x.progress is not None and time.monotonic() >= next_progress:
                next_progress = time.monotonic() + PROGRESS_EVERY_S
                x.progress(
                    Progress(self.totals["schedules"], x.max_schedules, self.totals["pruned"],
                             len(self.failures), time.monotonic() - t0)
                )  # fmt: skip
        complete = not errors and not stopped
        return self._document(time.monotonic() - t0, complete, errors, stopped)

    def _merge(self, out: dict[str, Any]) -> None:
        before = self.totals["schedules"]
        for k in ("schedules", "steps", "distinct", "pruned", "sleep_blocked"):
            self.totals[k] += out[k]
        self.longest = max(self.longest, out["longest"])
        for name, n in out["outcomes"].items():
            self.outcomes[name] = self.outcomes.get(name, 0) + n
        self.per_worker[out["worker"]] = self.per_worker.get(out["worker"], 0) + out["schedules"]
        for f in out["failures"]:
            x = self.x
            path = Path(x.trace_dir) / (
                f"{x.scenario.name}.{x.variant}.explore.{x.seed}.{self.token}."
                f"{len(self.failures)}.json"
            )
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f.pop("trace"))
            f["trace_file"] = str(path)
            f["schedule"] = before + f["schedule"]  # in the order the units came back
            self.failures.append(f)

    def _document(
        self, elapsed: float, complete: bool, errors: list[str], stopped: str
    ) -> dict[str, Any]:
        x, t = self.x, self.totals
        reasons: list[str] = []
        if errors:
            verdict, code, reasons = "aborted", 3, list(errors)
        elif self.failures:
            verdict, code = "fail", 1
            reasons = [
                f"{f['outcome']} in schedule {f['schedule']} ({f['grade']}): {f['trace_file']}"
                for f in self.failures
            ]
        elif complete:
            verdict, code = "pass", 0
        else:
            verdict, code = "incomplete", EXIT_INCOMPLETE
            reasons = [f"--max-schedules {x.max_schedules} ran out before every schedule was run"]
        from testbed.harness import options as option_table

        return {
            "command": "explore",
            "scenario": x.scenario.name,
            "source": x.ref,  # how to load it again (a replay command names it)
            "variant": x.variant,
            "config": option_table.document_config(x.config),
            "seed": x.seed,
            "strategy": x.strategy,
            "points": x.point_level,
            "preemption_bound": x.preemptions,
            "reduction": x.method(),
            "max_schedules": x.max_schedules,
            "schedules": t["schedules"],
            "distinct_schedules": t["distinct"],
            "pruned": t["pruned"],
            "sleep_blocked": t["sleep_blocked"],
            "complete": complete,
            "covers": covers(x),  # what `complete` means here
            "steps": t["steps"],
            "longest_schedule": self.longest,
            "outcomes": self.outcomes,
            "grades": {k: g.value for k, g in x.scenario.grades(x.variant).items()},
            "failures": self.failures,
            "trace_files": [f["trace_file"] for f in self.failures],
            "required": list(x.require),
            "elapsed_s": elapsed,
            "schedules_per_s": t["schedules"] / elapsed if elapsed > 0 else 0.0,
            "steps_per_s": t["steps"] / elapsed if elapsed > 0 else 0.0,
            "workers": self.workers,
            "scheduler": x.scheduler or "local (embedded)",
            "units": t["units"],
            "per_worker": self.per_worker,
            "verdict": verdict,
            "reasons": reasons,
            "exit_code": code,
        }


__all__ = ["Subtree", "Unit", "explore_distributed", "split"]
