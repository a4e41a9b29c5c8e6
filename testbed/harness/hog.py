"""A CPU hog: a process that only burns its CPU, to raise preemption of the actors there."""

from __future__ import annotations

from testbed.harness import process
from testbed.harness.spec import RunSpec
from testbed.ipc import control


def main(spec: RunSpec, cpus: list[int] | None, name: str = "hog") -> None:
    seg = process.enter(spec, name, [])
    if cpus is not None:
        import psutil

        psutil.Process().cpu_affinity(cpus)
    ctl = seg.words("control")  # (named `control` it hid the module: hogs died at once)
    while not ctl[control.STOP]:
        for _ in range(20_000):
            pass
