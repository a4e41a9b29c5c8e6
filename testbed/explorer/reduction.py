"""Which steps commute: a step's footprint (what it wrote, and what it read when that is
known), and the sleep sets built from it (Godefroid 1996), so that the search skips a
schedule that only reorders commuting steps of one it has already run.

A named point says nothing of what the code after it reads, so a step's reads are unknown
(`reads is None`: it may have read anything) and only its writes are seen: the words of the
scenario's regions that changed, the locks whose holder changed, and whether it talked to
core (whose state is private to core's process). Two steps commute when neither writes
what the other touches; with unknown reads that means neither wrote anything. Access-level
points, which name the word each step touches, give reads too and the same rule prunes more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy

from testbed.harness import reuse
from testbed.ipc.segment import Segment

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

    def footprint(self) -> Footprint:
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
        return Footprint(frozenset(writes))

    def close(self) -> None:
        for v in [*self.views.values(), self.reuse]:
            v.release()
