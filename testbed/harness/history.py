"""A continuous run's whole history, drained from the rings as the run goes, so that a failure
however late has every event since the start (what a replay forces).

The actors' rings (65,536 events each by default) wrap within a second of a busy run; the
runner copies what is new in each ring, 16 bytes an event, before it can be overwritten:
every 50 ms while the rings stay nearly empty between two drains, down to every 5 ms when
one fills a quarter (supervisor.DRAIN_S), so a ring of 65,536 events loses nothing below
13 M events a second an actor (genode-race makes 1.3 M at full speed on its own CPU). The copy is bounded by what a trace can hold (MAX_EVENTS): a
longer history could not be replayed anyway, and the run says so instead of offering it.
Iterating runs need none of this: a failure's history is its iteration, in the rings.
"""

from __future__ import annotations

from array import array

from testbed.harness import recorder
from testbed.harness.recorder import RingEvent
from testbed.ipc.segment import Segment

ENTRY_WORDS = 2


class History:
    """The runner's copy of every ring since the run began; `lost` says why it is not whole
    (None while it is)."""

    def __init__(self, seg: Segment, nactors: int, limit: int):
        regions = [recorder.ring_region(i) for i in range(nactors)] + [recorder.CORE_RING]
        self.rings = [seg.words(r) for r in regions]
        self.taken = [0] * len(regions)  # events copied from each ring
        self.data = [array("Q") for _ in regions]  # (ticket, what) pairs, oldest first
        self.limit = limit
        self.total = 0
        self.lost: str | None = None

    def poll(self) -> float:
        """Copy what is new in every ring; answers the fullest ring's share of new events (how
        near the drain came to losing some: the runner drains more often when it is high)."""
        fill = 0.0
        if self.lost is not None:
            return fill
        for k, ring in enumerate(self.rings):
            start, count = self.taken[k], ring[0]
            capacity = (len(ring) - 1) // ENTRY_WORDS
            n = count - start
            if n == 0:
                continue
            fill = max(fill, n / capacity)
            if n > capacity:
                self.lost = self._overrun(k, capacity)
                return fill
            first = start % capacity
            head = min(n, capacity - first)
            self.data[k].frombytes(ring[1 + 2 * first : 1 + 2 * (first + head)].tobytes())
            if n > head:  # the part that wrapped to the ring's start
                self.data[k].frombytes(ring[1 : 1 + 2 * (n - head)].tobytes())
            if ring[0] - start > capacity:  # overwritten while it was copied
                self.lost = self._overrun(k, capacity)
                return fill
            self.taken[k] = count
            self.total += n
        if self.total > self.limit:
            self.lost = (
                f"the run's history passed {self.limit:,} events, more than a trace holds "
                "and a replay can force; let the scenario iterate (Scenario.iterate) so that "
                "a failure's history is its iteration"
            )
        return fill

    def _overrun(self, k: int, capacity: int) -> str:
        who = "core's ring" if k == len(self.rings) - 1 else f"actor {k}'s ring"
        return (
            f"{who} took more than its {capacity:,} events between two drains (5-50 ms, or "
            "longer when the runner did not get a CPU); "
            "record with a larger --ring-events"
        )

    def events(self, k: int) -> list[RingEvent]:
        """Ring k's events so far, oldest first."""
        raw = self.data[k]
        return [
            RingEvent(raw[i], raw[i + 1] & 0xFFFF, raw[i + 1] >> 16)
            for i in range(0, len(raw), ENTRY_WORDS)
        ]
