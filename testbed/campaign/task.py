"""What runs on a Dask worker: one seeded stress run as a subprocess (`testbed stress ...
--json -`), so a run's processes, shared memory and CPU pinning are those of a normal run
whatever the worker is, and a worker that dies takes no half-cleaned state with it."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

_LIVE: set[subprocess.Popen] = set()  # runs of this process (the embedded cluster's threads)
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()  # set by stop_all: no run starts after it


class RunDidNotStart(RuntimeError):
    """The run gave no result document (bad start, crash): the campaign retries it."""


def _worker_slot() -> tuple[str, Any]:
    try:
        from distributed import get_worker

        w = get_worker()
        return w.address, w.name
    except (ImportError, ValueError):
        return socket.gethostname(), None


def run_one(argv: list[str], cpu_sets: list[list[int]] | None = None) -> dict[str, Any]:
    """Run `testbed stress ARGV --json -`; the result document, worker, time taken.
    `cpu_sets`: the embedded cluster's CPU set a worker (worker k runs on cpu_sets[k])."""
    address, name = _worker_slot()
    cpus = None
    if cpu_sets and isinstance(name, int) and 0 <= name < len(cpu_sets):
        cpus = cpu_sets[name]
    cmd = [sys.executable, "-m", "testbed.cli", "stress", *argv, "--json", "-"]
    t0 = time.monotonic()
    with _LIVE_LOCK:
        if _STOPPING.is_set():
            raise RunDidNotStart("the campaign is stopping")
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        _LIVE.add(proc)
    try:
        out, err = proc.communicate()
    finally:
        with _LIVE_LOCK:
            _LIVE.discard(proc)
    try:
        doc = json.loads(out)
    except json.JSONDecodeError:
        doc = None
    if proc.returncode not in (0, 1, 3) or not isinstance(doc, dict):
        tail = err.strip().splitlines()[-3:]
        raise RunDidNotStart(f"exit {proc.returncode} on {address}: {' | '.join(tail)}")
    return {
        "document": doc,
        "worker": address,
        "pid": os.getpid(),
        "cpus": cpus,
        "exit_code": proc.returncode,
        "run_s": time.monotonic() - t0,
    }


def start() -> None:
    """A campaign begins: runs may start again in this process."""
    _STOPPING.clear()


def stop_all() -> None:
    """SIGTERM every run this process started: each aborts, stops its own processes and
    removes its own shared memory and semaphores."""
    with _LIVE_LOCK:
        _STOPPING.set()
        procs = list(_LIVE)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
