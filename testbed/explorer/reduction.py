"""Which steps commute: a step's footprint (what it wrote, and what it read), and the sleep
sets built from it (Godefroid 1996), so that the search skips a schedule that only reorders
commuting steps of one it has already run.

Writes are seen: the words of the scenario's regions that changed, the locks whose holder
changed. Reads are known at both levels. Under `--points access` an actor parks just before
each access: a step that starts at `region[i].r` (or a slice, `region[a:b].r`) reads exactly
those words before its next point; one at `region[i].w` writes them and is taken to read
them too (a CAS is named `.w`); one at a lock's point touches that lock. At named points
the actor's views (`env.words`, `env.bitmap`, `env.atomic`) note each access in the step
log (harness/reuse.py) without parking, and the runner reads it after the step; an actor
that reached memory by address (`env.address`, `env.native`, a `cast`) has unknown reads
from then on (`reads is None`, as good as everything). A step that found a lock taken
read that lock.

Requests to core: core's state is private to its process, so a request is taken to touch
all of it (`CORE`) unless the scenario answers its footprint (`Scenario.core_footprint`):
from the requests and answers of the schedule so far, the keys of core's state a request
read or wrote (for Genode: the dataspace, the region map's slots, the page bitmap's words).
Two steps commute when neither writes what the other touches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy

from testbed.harness import reuse
from testbed.ipc.segment import Segment
from testbed.trace import access_points

CORE = ("core",)  # the whole of core's state: a request whose footprint is not known
WHOLE, KEYED = 2, 1  # Footprint.core: touched all of core's state, or the keys it names


@dataclass(frozen=True)
class Footprint:
    writes: frozenset[tuple]
    reads: frozenset[tuple] | None = None  # None: unknown, as good as everything
    core: int = 0  # 0: no request to core; KEYED: its keys are in reads/writes; WHOLE: all


def independent(a: Footprint, b: Footprint) -> bool:
    """Do the two steps (of different actors, both enabled) commute?"""
    if a.core and b.core and (a.core | b.core) & WHOLE:
        return False
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


# (pd, op, a0, a1, a2, status, value) -> the keys of core's state the request touched, or
# None (unknown: all of it). One a schedule, fed every request of it in order.
CoreFootprint = Callable[[int, int, int, int, int, int, int], frozenset[tuple] | None]


class Observer:
    """Sees what a step touched: copies of the shared regions before and after it (its
    writes), and the actor's step log (its reads at named points, its requests to core)."""

    def __init__(
        self,
        seg: Segment,
        regions: list[str],
        locks: list[str],
        pds: list[int],
        core_footprint: Callable[[], CoreFootprint] | None = None,
    ):
        self.views = {r: seg.bytes(r) for r in regions}
        self.whole = seg.bytes(reuse.REGION)
        self.reuse = self.whole[: 8 * len(locks)]  # the lock owners: a step's lock writes
        self.words = seg.words(reuse.REGION)
        self.locks, self.pds = locks, pds
        self.log_at = [reuse.log_word(len(locks), len(pds), i) for i in range(len(pds))]
        self.families = reuse.observed_families(regions)
        self.new_core = core_footprint
        self.core: CoreFootprint | None = None
        self.opaque = [False] * len(pds)  # sticky: once by address, always unknown
        self.before: dict[str, bytes] = {}

    def mark(self) -> None:
        """A schedule starts (its actors launched to their first points)."""
        self.core = self.new_core() if self.new_core is not None else None
        for actor in range(len(self.pds)):
            self._take(actor)  # the launch's requests feed core's model
        self.before = {r: bytes(v) for r, v in self.views.items()}
        self.before[reuse.REGION] = bytes(self.reuse)

    def footprint(
        self, actor: int, reads: frozenset[tuple] | None, named: bool, blocked: str | None = None
    ) -> Footprint:
        """What `actor`'s step since the last call touched. `reads`: what its point says it
        reads (access level); `named`: take the reads from its step log instead;
        `blocked`: the lock it found taken."""
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
            writes.update(("lock", self.locks[w]) for w in changed)
        logged, keys, requests = self._take(actor)
        if named:
            reads = logged
        core = 0
        if requests and keys is None:
            core = WHOLE
            writes.add(CORE)
        elif requests:  # a request may change what it read: it writes its keys
            core = KEYED
            writes.update(keys)
        if reads is not None:
            reads = reads | (keys or frozenset())
            if blocked is not None:
                reads = reads | {("lock", blocked)}
        return Footprint(frozenset(writes), reads, core)

    def _take(self, actor: int) -> tuple[frozenset[tuple] | None, frozenset[tuple] | None, int]:
        """The actor's step log, cleared: (reads, or None if unknown; the core keys, or None
        if unknown; requests made)."""
        at, w = self.log_at[actor], self.words
        n, flags = w[at], w[at + 1]
        entries = w[at + reuse.LOG_HEAD : at + reuse.LOG_HEAD + n].tolist()
        w[at] = w[at + 1] = 0
        if flags & reuse.LOG_OPAQUE:
            self.opaque[actor] = True
        reads: set[tuple] | None = set()
        keys: set[tuple] | None = set()
        requests, k = 0, 0
        while k < len(entries):
            e = entries[k]
            kind = e & reuse.LOG_LOCK  # the two top bits
            if kind == reuse.LOG_LOCK:
                reads.add(("lock", self.locks[e & 0xFFFF]))
                k += 1
                continue
            if kind == reuse.LOG_CORE:
                op, a0, a1, a2, status, value = e & 0xFFFF, *entries[k + 1 : k + 6]
                k += reuse.CORE_ENTRY_WORDS
                requests += 1
                model = self.core
                got = (
                    None if model is None else model(self.pds[actor], op, a0, a1, a2, status, value)
                )
                keys = None if got is None or keys is None else keys | got
                continue
            code = e & ~reuse.LOG_ACCESS
            name = access_points.name(self.families, code & 0xFFFF, code >> 16)
            region, span, _ = access_points.words(name)
            reads.update((region, i) for i in span)
            k += 1
        if flags & reuse.LOG_OVERFLOW:
            reads = keys = None
            requests += 1
        if self.opaque[actor]:
            reads = None
        return (
            None if reads is None else frozenset(reads),
            None if keys is None else frozenset(keys),
            requests,
        )

    def close(self) -> None:
        for v in [*self.views.values(), self.reuse, self.whole]:
            v.release()
        self.words.release()
