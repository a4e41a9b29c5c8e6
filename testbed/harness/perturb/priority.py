"""The process's OS priority, which the priority strategies (os_pct, nice) move and restore."""

from __future__ import annotations

import os


def nice(value: int) -> None:
    """Set this process's nice level; lowering it needs privilege: then it stays higher."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, value)
    except OSError:
        pass


def normal() -> None:
    """Back to the normal scheduling class at nice 0 (as far as the process may)."""
    try:
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (AttributeError, OSError):
        pass
    nice(0)
