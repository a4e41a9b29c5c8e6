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

DPOR adds backtrack points to nodes above the race it found, which a split subtree cannot
reach, so under workers the first `EAGER_DEPTH` steps of every schedule try every actor the
bound allows (their siblings known at once, nothing for a race to add) and only those nodes
are split; below them each unit runs DPOR of its own (`DporSubtree`), with a bound one round
at K (bounded DPOR, not deepened K = 0, 1, ...). Its `schedules` are a function of the eager
top, so any number of workers counts the same, but more than one explorer alone does (the
document's `split` says so); a complete search's verdict is the same. The samplers split by
seeds: unit k runs `SAMPLE_UNIT` schedules with a seed of its own (`unit_seed`), and the
budget is the sum.

Each worker process keeps one `_Session` an exploration: an Explorer whose processes start on
the first unit and stay up until the coordinator closes the session. Failures' traces are
written in the worker and sent back whole; the coordinator saves them in `--trace-dir`.
A search on one CPU (`--handoff one-cpu`, or `auto`) puts the k-th worker (by address) and
its processes on the k-th usable CPU, mod their number, so that workers do not fight for one.
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
from collections.abc import Callable
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
from testbed.explorer.strategies import SAMPLERS, Setup, build
from testbed.explorer.strategies.bounded_dpor import BoundedDpor
from testbed.explorer.strategies.dfs import Dfs, Node
from testbed.explorer.strategies.dpor import Dpor
from testbed.harness import loader
from testbed.harness.run import prepare
from testbed.scenario import ConfigError

FIRST_SCHEDULES = 8  # the root unit comes back after these, split, so every worker has work
SLICE_S = 0.5  # a unit hands back what is left after this long (split if a worker is idle)
SESSION_TIMEOUT_S = 120.0  # a worker's processes start within this
EAGER_DEPTH = 2  # dpor: the steps of a schedule that try every actor, split across workers
SAMPLE_UNIT = 50  # samplers: schedules a unit, each unit its own seed


@dataclass
class Unit:
    """Every schedule below `stack` (the last node's last tried choice is the next to run),
    backtracking at depths >= `floor` only; at most `budget` schedules, `slice_s` seconds."""

    stack: list[Node]
    floor: int
    budget: int
    slice_s: float
    max_failures: int
    seed: int = 0  # a sampler's unit: its seed (its stack empty)


class Subtree(Dfs):
    """The depth-first search below a unit's floor; `rest` splits what it has not run."""

    def __init__(self, bound: int | None, reduce: bool, unit: Unit):
        super().__init__(bound, reduce)
        self.stack, self.floor = unit.stack, unit.floor

    def rest(self) -> tuple[list[Node], int]:
        """After `next()` answered True: the search left, as a (stack, floor) unit."""
        return copy.deepcopy(self.stack), self.floor


class DporSubtree(BoundedDpor):
    """DPOR below a unit's floor (bounded: one round at `bound`; None: source sets with
    sleep sets, as dpor.py); the nodes above EAGER_DEPTH try every actor the bound allows."""

    def __init__(self, bound: int | None, unit: Unit):
        super().__init__(bound or 0)
        self.bound = bound
        self.stack, self.floor = unit.stack, unit.floor

    def _new_sleep(self) -> dict:
        return self.sleep if self.bound is None else {}

    def _reverse(self, i: int, j: int, hb: list[int]) -> None:
        if self.bound is None:
            Dpor._reverse(self, i, j, hb)  # the racer's extra nodes are for a bound only
        else:
            super()._reverse(i, j, hb)

    def choose(self, depth: int, enabled: list[int]) -> int | None:
        new = depth >= len(self.stack)
        actor = super().choose(depth, enabled)
        if new and actor is not None and depth < EAGER_DEPTH:
            self.stack[depth].backtrack = set(enabled)
        return actor

    def next(self) -> bool:
        # one round below the floor (not BoundedDpor's deepening); races above the floor
        # add nothing: those nodes try every actor
        return Dpor.next(self)

    def rest(self) -> tuple[list[Node], int]:
        return copy.deepcopy(self.stack), self.floor


def split_dpor(stack: list[Node], floor: int, bound: int | None) -> list[tuple[list[Node], int]]:
    """As `split`, at the eager nodes only (depth < EAGER_DEPTH): a deeper node's backtrack
    set grows with the races found below it, so it stays in its unit."""
    return split(stack, floor, bound, Node.backtrack_left, min(len(stack) - 1, EAGER_DEPTH))


def unit_seed(seed: int, k: int) -> int:
    """A sampler's unit k's seed: a stream of its own from the exploration's seed."""
    import random

    from testbed.harness.options import MAX_SEED

    return random.Random(f"{seed}/{k}").randrange(MAX_SEED + 1)


def split(
    stack: list[Node],
    floor: int,
    bound: int | None,
    untried_at: Callable[[Node, int | None], list[int]] = Node.untried,
    top: int | None = None,
) -> list[tuple[list[Node], int]]:
    """A unit's search as several: the untried siblings of each node from the floor up to
    the top's parent (each with that node as its floor, shallowest first), then the top's
    own branch with the top as its floor. Their union is the unit's search, each schedule
    in one of them, each sleep set made from the same siblings as in one search."""
    top = len(stack) - 1 if top is None else top
    parts = []
    for d in range(floor, top):
        choices = untried_at(stack[d], bound)
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
        if x.strategy in SAMPLERS:
            setup = Setup(x.preemptions, "none", unit.seed,
                          x.scenario.expected_steps(self.spec.config))  # fmt: skip
            strat = build(x.strategy, setup)
            if hasattr(strat, "observe"):
                strat.observe(self.pending)
        elif x.method() == "dpor":
            strat = DporSubtree(x.preemptions, unit)
        else:
            strat = Subtree(x.preemptions, x.method() == "sleep-sets", unit)
        self.strategy = strat
        self.schedules = self.steps = self.longest = self.repeated = 0
        self.histogram = dict.fromkeys(self.spec.outcomes, 0)
        self.failures, self.distinct = [], set()
        t0 = time.monotonic()
        rest: tuple[list[Node], int] | None = None
        while True:
            self._tally(self._one(strat))  # as one explorer counts
            stop = unit.max_failures and len(self.failures) >= unit.max_failures
            if not strat.next():
                break
            if x.strategy in SAMPLERS:  # a sampler's unit is its budget, never a rest
                if stop or self.schedules >= unit.budget:
                    break
                continue
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
            "sleep_blocked": getattr(strat, "sleep_blocked", 0),
            "outcomes": self.histogram,
            "failures": self.failures,
            "rest": rest,
            "seconds": time.monotonic() - t0,
            "cpu": self.spec.runner_cpu,  # this worker's search's one CPU (None: spread)
        }


class _Session:
    """One exploration's Explorer in this worker process, on a thread of its own, its
    processes up from the first unit until `close`."""

    def __init__(self, job: ExploreOptions, cpu: int):
        self.inbox: queue.Queue[Unit | None] = queue.Queue()
        self.outbox: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.ready = threading.Event()
        self.ended: dict[str, Any] | None = None
        self.trace_dir = tempfile.mkdtemp(prefix="testbed-explore-")
        opts = replace(job, scenario=loader.load(job.ref), trace_dir=self.trace_dir, cpu=cpu)
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


def _session(token: str, job: ExploreOptions, cpu: int) -> _Session:
    with _SESSIONS_LOCK:
        if token not in _SESSIONS:
            _SESSIONS[token] = _Session(job, cpu)
        session = _SESSIONS[token]
    session.ready.wait(SESSION_TIMEOUT_S)
    return session


def open_session(
    token: str, job: ExploreOptions, places: dict[str, int], dask_worker: Any = None
) -> str | None:
    """On every worker before the search: its processes up (on CPU `places[its address]`
    if on one CPU); None, or why they are not. (Dask passes `dask_worker`.)"""
    s = _session(token, job, places.get(dask_worker.address, len(places)))
    return None if s.ended is None else "; ".join(s.ended.get("reasons", [])) or "ended"


def run_unit(token: str, job: ExploreOptions, places: dict[str, int], unit: Unit) -> dict[str, Any]:
    """A Dask task: one unit on this worker's session (opened if this worker joined late:
    on the CPU after the others')."""
    from distributed import get_worker

    address = get_worker().address
    kind, out = _session(token, job, places.get(address, len(places))).run(unit)
    if kind == "ended":
        return {"aborted": out.get("reasons") or ["the worker's explorer ended"]}
    out["worker"] = address
    return out


def close_session(token: str) -> None:
    """On every worker after the search: its processes stopped, its files removed."""
    with _SESSIONS_LOCK:
        session = _SESSIONS.pop(token, None)
    if session is not None:
        session.close()


# -- the coordinator -----------------------------------------------------------------------
def check(opts: ExploreOptions) -> None:
    """What can be split: every strategy, given a scenario the workers can load."""
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
        addresses = sorted(client.scheduler_info(n_workers=-1)["workers"])
        places = {address: k for k, address in enumerate(addresses)}  # worker k: CPU k mod n
        try:
            opened = client.run(open_session, token, job, places)
            errors = sorted({e for e in opened.values() if e})
            doc = _Coordinator(opts, client, token, job, places).search(errors)
        finally:
            with contextlib.suppress(Exception):
                client.run(close_session, token)
    doc["wall_s"] = time.monotonic() - started
    return doc


class _Coordinator:
    def __init__(self, opts, client, token: str, job: ExploreOptions, places: dict[str, int]):
        self.x, self.client, self.token, self.job = opts, client, token, job
        self.places, self.workers = places, len(places)
        self.totals = dict.fromkeys(
            ("schedules", "steps", "distinct", "pruned", "sleep_blocked", "units"), 0
        )
        self.longest = 0
        self.outcomes = dict.fromkeys(opts.scenario.grades(opts.variant), 0)
        self.failures: list[dict[str, Any]] = []
        self.per_worker: dict[str, int] = {}
        self.worker_cpus: dict[str, int | None] = {}  # each worker's search's CPU, or None
        self.pending: dict[Any, None] = {}
        self.sampled = 0  # samplers: schedules handed out in units so far
        self.split = split_dpor if opts.method() == "dpor" else split

    def _sample(self) -> bool:
        """Samplers: hand out the next unit of the budget, with its own seed; False when
        the budget is all handed out."""
        x = self.x
        n = min(SAMPLE_UNIT, x.max_schedules - self.sampled)
        if n <= 0:
            return False
        seed = unit_seed(x.seed, self.totals["units"])
        self._submit([], 0, SLICE_S, budget=n, seed=seed)
        self.sampled += n
        return True

    def _submit(
        self, stack: list[Node], floor: int, slice_s: float, budget: int = 0, seed: int = 0
    ) -> None:
        x = self.x
        left = x.max_failures - len(self.failures) if x.max_failures else 0
        budget = min(budget or x.max_schedules, x.max_schedules - self.totals["schedules"])
        unit = Unit(stack, floor, max(1, budget), slice_s, left, seed)
        self.totals["units"] += 1
        key = f"testbed-explore-{self.token}-{self.totals['units']}"
        fut = self.client.submit(
            run_unit, self.token, self.job, self.places, unit, key=key, pure=False
        )
        self.pending[fut] = None

    def search(self, errors: list[str]) -> dict[str, Any]:
        from distributed import wait

        x = self.x
        t0 = time.monotonic()
        stopped = ""
        sampling = x.strategy in SAMPLERS
        if not errors and sampling:
            for _ in range(2 * self.workers):
                self._sample()
        elif not errors:
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
                if sampling and not stopped:
                    self._sample()
                if out["rest"] is None:
                    continue
                if stopped:
                    continue
                stack, floor = out["rest"]
                parts = [(stack, floor)]
                if len(self.pending) < self.workers:  # a worker runs dry: give it a part
                    parts = self.split(stack, floor, x.preemptions)
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
        complete = not errors and not stopped and not sampling
        return self._document(time.monotonic() - t0, complete, errors, stopped)

    def _merge(self, out: dict[str, Any]) -> None:
        before = self.totals["schedules"]
        for k in ("schedules", "steps", "distinct", "pruned", "sleep_blocked"):
            self.totals[k] += out[k]
        self.longest = max(self.longest, out["longest"])
        for name, n in out["outcomes"].items():
            self.outcomes[name] = self.outcomes.get(name, 0) + n
        self.per_worker[out["worker"]] = self.per_worker.get(out["worker"], 0) + out["schedules"]
        self.worker_cpus[out["worker"]] = out["cpu"]
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
            reasons = [
                f"{x.strategy} samples schedules: it never completes (--max-schedules "
                f"{x.max_schedules})"
                if x.strategy in SAMPLERS
                else f"--max-schedules {x.max_schedules} ran out before every schedule was run"
            ]
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
            "preemption_bound": x.preemptions if x.strategy in ("dfs", "pct", "auto") else None,
            "reduction": x.method(),
            "max_schedules": x.max_schedules,
            "schedules": t["schedules"],
            "distinct_schedules": t["distinct"],
            "pruned": t["pruned"],
            "sleep_blocked": t["sleep_blocked"],
            "repeated": 0,
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
            "worker_cpus": self.worker_cpus,
            "split": _split_text(x),
            "verdict": verdict,
            "reasons": reasons,
            "exit_code": code,
        }


def _split_text(x: ExploreOptions) -> str:
    """What the split search ran, for the document: what its `schedules` count."""
    if x.strategy in SAMPLERS:
        return (
            f"seeds: units of {SAMPLE_UNIT} schedules, each with its own seed from --seed; "
            "schedules is their sum"
        )
    if x.method() == "dpor":
        rounds = "one round at the bound, " if x.preemptions is not None else ""
        return (
            f"dpor: {rounds}the first {EAGER_DEPTH} steps of a schedule try every actor, "
            "DPOR below each such prefix; schedules counts those run to their end, the same "
            "for any number of workers, not one explorer's count (the verdict of a complete "
            "search is the same)"
        )
    return "prefixes: each schedule in one unit, as one explorer counts it"


__all__ = ["DporSubtree", "Subtree", "Unit", "explore_distributed", "split", "split_dpor"]
