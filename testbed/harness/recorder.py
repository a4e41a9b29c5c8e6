"""Recording schedule-point events: a ticket from one shared counter (the global order) and
an entry in the actor's ring in shared memory, one C call an event (a builtin, no ctypes).

Event ids: schedule points are their index in the scenario's point list; outcomes and
core's requests have ids of their own above them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from testbed.ipc.native import lib
from testbed.ipc.segment import Layout, Segment
from testbed.trace.ids import CORE_EVENT, MAX_CORE_OP, OUTCOME_EVENT  # noqa: F401 (the recorder's ids)

DEFAULT_RING_EVENTS = 1 << 16
CORE_RING = "ring.core"


def ring_region(actor_index: int) -> str:
    return f"ring.{actor_index}"


def add_regions(layout: Layout, nactors: int, capacity: int) -> None:
    for i in range(nactors):
        layout.add_words(ring_region(i), 1 + 2 * capacity)
    layout.add_words(CORE_RING, 1 + 2 * capacity)


def core_event(op: int) -> int:
    """The event id of a request core served; any op (a client may send any 64-bit word)
    gets an id that fits the ring's 16 bits, an op above MAX_CORE_OP the id of MAX_CORE_OP."""
    return CORE_EVENT + (op if 0 <= op < MAX_CORE_OP else MAX_CORE_OP)


def pack_core(op: int, client: int, status: int, key: int) -> int:
    op = op if 0 <= op < MAX_CORE_OP else MAX_CORE_OP
    return op & 0xFF | (client & 0xFFF) << 8 | (status & 0xFF) << 20 | (key & 0xFFFFF) << 28


def unpack_core(what: int) -> tuple[int, int, int, int]:
    return what & 0xFF, what >> 8 & 0xFFF, what >> 20 & 0xFF, what >> 28 & 0xFFFFF


class Recorder:
    """A process's handle on its own ring (one a process): `record(event_id)` and
    `record_what(event_id, what)` answer the event's ticket, one C call each.

    The hot ones (`record`, `point_hook`, `store_at`, `find_at`, `request_hook`) are C builtins made by
    testbed/ipc/hooks.c: a call of one costs 0.05-0.1 us here, a ctypes call 0.3-0.6 us."""

    def __init__(self, seg: Segment, region: str, capacity: int, counter_addr: int):
        so = lib()
        so.tb_recorder_bind(seg.address(region), capacity, counter_addr)
        self._so, self._counter = so, counter_addr
        self.record: Callable[[int], int] = so.tb_hook_record()  # (event) -> ticket
        self._what = so.tb_rec_what

    def point_hook(self, ids: dict[str, int | None], ticket: bool = False) -> Callable[[str], Any]:
        """`point(name)`: record the event `ids[name]` (None: the point is recorded by its
        step's access, see `store_at`, and records nothing here). With `ticket` it answers
        the event's ticket (for a point recorded at its access, the ticket the access is
        about to take), else None. `ids` is read at each call: entries may change later."""
        return self._so.tb_hook_point(ids, self._counter, int(ticket))

    def store_at(self, event: int, words: int, nwords: int) -> Callable[[int, int], None]:
        """`store(index, value)`: record `event` and write the 64-bit word `index` of the
        `nwords` words at address `words`, the ticket taken right before the write, in one C
        call; IndexError (nothing recorded) for an index outside 0..nwords-1."""
        return self._so.tb_hook_store(event, words, nwords)

    def find_at(self, event: int, words: int, nwords: int) -> Callable[[int, int], bool]:
        """`find(value, n)`: record `event` and answer whether `value` is among the first `n`
        of the `nwords` 64-bit words at address `words`, the ticket taken right before the
        scan, in one C call; IndexError (nothing recorded) for an n above nwords."""
        return self._so.tb_hook_find(event, words, nwords)

    def request_hook(self) -> Callable[[int, int, int, int], None]:
        """`record_request(op, client, status, key)`: record a request core served, event
        `core_event(op)` with `pack_core(op, client, status, key)`, in one C call."""
        return self._so.tb_hook_record_request(CORE_EVENT, MAX_CORE_OP)

    def record_what(self, event: int, what: int) -> int:
        return self._what(event, what & 0xFFFFFFFF, what >> 32)


@dataclass(frozen=True)
class RingEvent:
    ticket: int
    event: int
    what: int


def read_ring(words: memoryview) -> tuple[list[RingEvent], bool]:
    """The events a ring holds, oldest first, and whether it still holds all ever written."""
    count, capacity = words[0], (len(words) - 1) // 2
    raw = words[1:].tolist()  # one copy at C speed; the ring goes on being written meanwhile
    first = max(0, count - capacity)
    out = []
    for n in range(first, count):
        base = 2 * (n % capacity)
        what = raw[base + 1]
        out.append(RingEvent(raw[base], what & 0xFFFF, what >> 16))
    return out, count <= capacity
