"""What every child process does first: ignore Ctrl-C (the runner stops it), pin, attach."""

from __future__ import annotations

import signal

import psutil

from testbed.harness.spec import RunSpec
from testbed.ipc.segment import Segment


def enter(spec: RunSpec, name: str) -> Segment:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cpus = spec.cpus.get(name)
    if cpus is not None:
        psutil.Process().cpu_affinity(cpus)
    return Segment.attach(spec.segment_name, spec.layout)
