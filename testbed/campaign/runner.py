"""Sends a campaign's runs to Dask distributed and collects them: an embedded local cluster
(one worker per set of CPUs a run needs, so runs do not steal each other's cores) or an
existing scheduler. A run that fails to start or loses its worker is retried and reported,
never dropped; the budget and Ctrl-C cancel what is left and stop what runs."""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from testbed.campaign import aggregate, task
from testbed.campaign.matrix import Run
from testbed.scenario import ConfigError

POLL_S = 0.1


@dataclass
class Progress:
    """What the campaign has done so far (for the live display)."""

    total: int
    done: int = 0
    failing: int = 0
    retried: int = 0
    lost: int = 0
    per_worker: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0


def cpu_sets(cpus_per_run: int) -> list[list[int]]:
    """The embedded cluster's workers: one a set of `cpus_per_run` CPUs of this process."""
    cpus = sorted(psutil.Process().cpu_affinity())
    if not 1 <= cpus_per_run <= len(cpus):
        raise ConfigError(f"--cpus-per-run {cpus_per_run}: expected 1..{len(cpus)} (usable CPUs)")
    n = len(cpus) // cpus_per_run
    return [cpus[k * cpus_per_run : (k + 1) * cpus_per_run] for k in range(n)]


@contextlib.contextmanager
def client_for(scheduler: str, sets: list[list[int]]):
    """A Dask client: of an embedded local cluster (`local`) or of the scheduler at
    tcp://HOST:PORT. The embedded workers are threads: each run is its own process anyway."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError(
            "campaigns need Dask distributed: pip install 'testbed[campaign]'"
        ) from None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=len(sets), threads_per_worker=1, processes=False,
            dashboard_address=None, scheduler_port=0, silence_logs=logging.ERROR,
        )  # fmt: skip
        client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
            cluster.close()
        return
    if not scheduler.startswith("tcp://"):
        raise ConfigError(f"--scheduler {scheduler!r}: expected local or tcp://HOST:PORT")
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as e:
        raise ConfigError(f"--scheduler {scheduler}: no Dask scheduler answered ({e})") from None
    try:
        yield client
    finally:
        client.close()


def _suspicious(dask_scheduler, keys: list[str]) -> dict[str, int]:
    """On the scheduler: how often each task lost its worker (and was run again there)."""
    return {k: dask_scheduler.tasks[k].suspicious for k in keys if k in dask_scheduler.tasks}


def execute(
    runs: list[Run],
    scheduler: str = "local",
    cpus_per_run: int = 1,
    budget_s: float | None = None,
    max_retries: int = 2,
    progress: Callable[[Progress], None] | None = None,
) -> tuple[list[dict[str, Any]], str, dict[str, Any]]:
    """Run everything; (run records, how it stopped: done|budget|interrupted, cluster info)."""
    sets = cpu_sets(cpus_per_run) if scheduler == "local" else []
    records: list[dict[str, Any]] = [
        {"cell": r.cell, **r.key, "trial": r.trial, "seed": r.seed, "command": r.command,
         "attempt": 0, "status": "pending", "errors": []}
        for r in runs
    ]  # fmt: skip
    t0 = time.monotonic()
    task.start()
    info = {"scheduler": scheduler if scheduler != "local" else "local (embedded)",
            "workers": 0, "cpu_sets": sets}  # fmt: skip
    try:
        stopped = _execute(
            runs, records, scheduler, sets, budget_s, max_retries, progress, info, t0
        )
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM while the cluster started or stopped
        stopped = "interrupted"
        task.stop_all()
    for rec in records:  # what never ran (interrupted before its submission)
        if rec["status"] == "pending":
            rec["status"] = "skipped"
            rec["errors"].append(f"not run: campaign stopped ({stopped})")
    return records, stopped, info


def _execute(
    runs: list[Run],
    records: list[dict[str, Any]],
    scheduler: str,
    sets: list[list[int]],
    budget_s: float | None,
    max_retries: int,
    progress: Callable[[Progress], None] | None,
    info: dict[str, Any],
    t0: float,
) -> str:
    """`execute`'s loop on the cluster: fills `records` and `info`; how it stopped."""
    token = secrets.token_hex(3)
    stopped = "done"
    with client_for(scheduler, sets) as client:
        info["workers"] = len(client.scheduler_info(n_workers=-1)["workers"])
        pending: dict[Any, int] = {}
        finished_keys: list[str] = []
        key_of: dict[int, str] = {}

        def submit(i: int) -> None:
            rec = records[i]
            rec["attempt"] += 1
            key = f"testbed-run-{token}-{i}-a{rec['attempt']}"
            fut = client.submit(task.run_one, runs[i].argv, sets or None, key=key, pure=False)
            pending[fut] = i
            key_of[i] = key

        for i in range(len(runs)):
            submit(i)
        prog = Progress(total=len(runs))
        try:
            while pending:
                if budget_s is not None and time.monotonic() - t0 > budget_s:
                    stopped = "budget"
                    break
                ready = [f for f in pending if f.done()]
                for fut in ready:
                    i = pending.pop(fut)
                    rec = records[i]
                    if fut.status == "finished":
                        rec.update(fut.result(), status="done")
                        finished_keys.append(fut.key)
                        prog.done += 1
                        prog.failing += rec["document"]["first_failure_s"] is not None
                        w = rec["worker"]
                        prog.per_worker[w] = prog.per_worker.get(w, 0) + 1
                    else:
                        exc = fut.exception() if fut.status == "error" else "cancelled"
                        rec["errors"].append(
                            f"attempt {rec['attempt']}: {type(exc).__name__}: {exc}"
                        )
                        if rec["attempt"] <= max_retries:
                            prog.retried += rec["attempt"] == 1
                            submit(i)
                        else:
                            rec["status"] = "lost"
                            prog.lost += 1
                if progress:
                    prog.elapsed_s = time.monotonic() - t0
                    progress(prog)
                if not ready:
                    time.sleep(POLL_S)
        except KeyboardInterrupt:
            stopped = "interrupted"
        finally:
            if pending:
                client.cancel(list(pending), force=True)
                task.stop_all()  # the embedded cluster's runs; a remote run ends at its duration
                for i in pending.values():
                    records[i]["status"] = "skipped"
                    records[i]["errors"].append(f"not run: campaign stopped ({stopped})")
        with contextlib.suppress(Exception):
            again = client.run_on_scheduler(_suspicious, keys=finished_keys)
            for i, rec in enumerate(records):
                n = again.get(key_of.get(i, ""), 0)
                rec["scheduler_retries"] = n
                if n:
                    rec["errors"].append(f"its worker died {n} time(s); the scheduler ran it again")
    return stopped


def aggregates(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    cells: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        cells.setdefault(r["cell"], []).append(r)
    out = []
    for cell, rs in cells.items():
        key = {k: rs[0][k] for k in ("scenario", "variant", "strategy", "pin")}
        out.append({"cell": cell, **aggregate.cell(key, rs)})
    return out
