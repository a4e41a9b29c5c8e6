"""Why a run is stuck or aborted, root cause first: which process (pid, name, state, the
point it was last seen at, the locks it holds), then the failures in the order they happened.

A waiter's LockTimeout or "no reply from core" is a consequence; a stopped (SIGSTOP) or dead
process holding a lock, or a stopped core, is the cause, and is named first.
"""

from __future__ import annotations

from dataclasses import dataclass

import psutil

from testbed.harness import recorder, reuse, stats
from testbed.harness.spec import RunSpec
from testbed.ipc import control
from testbed.ipc.segment import Segment

STOPPED = (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)


@dataclass(frozen=True)
class Failure:
    """A child that ended badly: when (monotonic ns) and the reason."""

    at_ns: int
    reason: str


def state(pid: int | None) -> str | None:
    """The process's state as ps shows it ('stopped', 'running', 'sleeping', ...), None if gone."""
    if pid is None:
        return None
    try:
        st = psutil.Process(pid).status()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return None if st in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD) else st


def is_stopped(pid: int | None) -> bool:
    return state(pid) in STOPPED


def last_point(spec: RunSpec, seg: Segment, index: int) -> str | None:
    """The last event an actor recorded (a schedule point or an outcome), if recording."""
    if not spec.record:
        return None
    ring, _ = recorder.read_ring(seg.words(recorder.ring_region(index)))
    if not ring:
        return "its start"
    e = ring[-1].event
    if e >= recorder.OUTCOME_EVENT:
        k = e - recorder.OUTCOME_EVENT
        return f"outcome {spec.outcomes[k]!r}" if k < len(spec.outcomes) else f"event {e}"
    return f"point {spec.points[e]!r}" if e < len(spec.points) else f"event {e}"


def locks_held(spec: RunSpec, seg: Segment, index: int) -> list[str]:
    """The locks whose holder word names actor `index` (explore's reused processes keep
    their owners in the `reuse` region, every other run in the control block)."""
    if spec.reuse:
        owners, word = seg.words(reuse.REGION), reuse.owner_word
    else:
        owners, word = seg.words(control.REGION), control.holder_word
    return [lock for k, lock in enumerate(spec.locks) if owners[word(k)] == index + 1]


def describe(spec: RunSpec, seg: Segment, name: str, pid: int | None) -> str:
    """`NAME (pid N, last seen at point 'x', holding lock L)`."""
    parts = [f"pid {pid}"]
    index = next((a.index for a in spec.actors if a.name == name), None)
    if index is not None:
        where = last_point(spec, seg, index)
        if where is not None:
            parts.append(f"last seen at {where}")
        held = locks_held(spec, seg, index)
        if held:
            parts.append(f"holding lock {', '.join(held)}")
    return f"{name} ({', '.join(parts)})"


def stopped(spec: RunSpec, seg: Segment, pids: dict[str, int | None]) -> list[str]:
    """A reason for each process that is stopped (SIGSTOP, a debugger): a root cause."""
    out = []
    for name, pid in pids.items():
        if is_stopped(pid):
            what = "it answers no request" if name == "core" else "it makes no progress"
            out.append(
                f"{describe(spec, seg, name, pid)} is stopped (SIGSTOP or a debugger): {what}"
            )
    return out


def error_time(seg: Segment, index: int) -> int:
    """When actor `index` wrote its error (monotonic ns), 0 if it wrote none."""
    return seg.words("stats")[stats.WORDS * index + stats.ERROR_NS]


def in_order(causes: list[str], failures: list[Failure]) -> list[str]:
    """The root causes, then the failures by time, each reason once."""
    out: list[str] = []
    for reason in [*causes, *(f.reason for f in sorted(failures, key=lambda f: f.at_ns))]:
        if reason not in out:
            out.append(reason)
    return out
