"""What every child process does first: take a title naming its run and role (so `ps`, `top`
and psutil tell core from an actor), ignore Ctrl-C (the runner stops it), pin, attach; and
the runner's own pin for a search on one CPU."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import posix_ipc
import psutil
import setproctitle

from testbed.harness.spec import RunSpec
from testbed.ipc.segment import Segment


def title(spec: RunSpec, name: str) -> str:
    """`testbed ROLE SCENARIO/VARIANT run PREFIX`: the command line `ps` shows."""
    ref = spec.scenario.rsplit(":", 1)
    scenario = ref[-1] if len(ref) == 2 else Path(ref[0]).stem if ref[0].endswith(".py") else ref[0]
    return f"testbed {name} {scenario}/{spec.variant} run {spec.prefix.lstrip('/')}"


def enter(spec: RunSpec, name: str, pds: list[int] | None = None, protect: bool = False) -> Segment:
    """Attach the run's segment and the own segments of PDs `pds` (None: every PD's);
    `protect`: an actor's, whose read-only regions are mapped read-only."""
    setproctitle.setproctitle(title(spec, name))
    setproctitle.setthreadtitle(f"tb {name}"[:15])  # the process name `top` shows (15 bytes)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cpus = spec.cpus.get(name)
    if cpus is not None:
        psutil.Process().cpu_affinity(cpus)
    try:
        return Segment.attach(spec.segment_name, spec.layout, pds, protect)
    except posix_ipc.ExistentialError:
        # the run ended (Ctrl-C, an abort) before this child attached: the runner has
        # removed the run's objects and reports why; this child has nothing to do
        raise SystemExit(3) from None


@contextlib.contextmanager
def pinned(cpu: int | None) -> Iterator[None]:
    """The calling thread (the runner) on `cpu` meanwhile (None: as it is), its own CPUs
    given back after. Only the thread: a library caller's other threads, and the fork
    server the children come from (started before, unpinned), keep theirs."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
