"""Which steps commute: a step's footprint (what it wrote, and what it read when that is
known), and the sleep sets built from it (Godefroid 1996), so that the search skips a
schedule that only reorders commuting steps of one it has already run.

Writes are seen: the words of the scenario's regions that changed, the locks whose holder
changed, and whether the step talked to core (whose state is private to core's process).
Reads are known only under `--points access`, where an actor parks just before each access
of a shared word and each lock operation: a step that starts at `region[i].r` (or a slice,
`region[a:b].r`) reads exactly those words before its next point; one at `region[i].w`
writes them and is taken to read them too (a CAS is named `.w`); one at a lock's point
touches that lock. A step that starts at a named point (or at its start) may reach memory
by address: its reads are unknown (`reads is None`, as good as everything). Two steps
commute when neither writes what the other touches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy

from testbed.harness import reuse
from testbed.ipc.segment import Segment
from testbed.trace import access_points

CORE = ("core",)


@dataclass(frozen=True)
class Footprint:
    writes: frozenset[tuple]
    reads: frozenset[tuple] | None = None  # None: unknown, as good as everything


def independent(a: Footprint, b: Footprint) -> bool:
    """Do the two steps (of different actors, both enabled) commute?"""
    if a.writes & b.writes:
        return False
    for x, y in ((a, b), (b, a)):
        if y.writes and (x.reads is None or x.reads & y.writes):
            return False
    return True


def reads_at(point: str, locks: list[str]) -> frozenset[tuple] | None:
    """What a step that starts parked at `point` reads; None if that is unknown."""
    words = access_points.words(point)
    if words is not None:
        region, span, _ = words
        return frozenset((region, w) for w in span)
    lock = point.rpartition(".")[0]
    if lock in locks and point in access_points.lock_points(lock):
        return frozenset({("lock", lock)})
    return None


class Observer:
    """Sees what a step wrote: copies of the shared regions before and after it."""

    def __init__(self, seg: Segment, regions: list[str], locks: list[str]):
        self.views = {r: seg.bytes(r) for r in regions}
        self.reuse = seg.bytes(reuse.REGION)
        self.locks = locks
        self.before: dict[str, bytes] = {}

    def mark(self) -> None:
        self.before = {r: bytes(v) for r, v in self.views.items()}
        self.before[reuse.REGION] = bytes(self.reuse)

    def footprint(self, reads: frozenset[tuple] | None = None) -> Footprint:
        """What the step since the last call wrote; `reads` what it read, if known."""
        writes: set[tuple] = set()
        for region, view in [*self.views.items(), (reuse.REGION, self.reuse)]:
            now, then = bytes(view), self.before[region]
            self.before[region] = now
            if now == then:
                continue
            changed = numpy.flatnonzero(
                numpy.frombuffer(now, "<u8") != numpy.frombuffer(then, "<u8")
            )
            if region != reuse.REGION:
                writes.update((region, int(w)) for w in changed)
                continue
            for w in changed:
                writes.add(("lock", self.locks[w]) if w < len(self.locks) else CORE)
        return Footprint(frozenset(writes), reads)

    def close(self) -> None:
        for v in [*self.views.values(), self.reuse]:
            v.release()
