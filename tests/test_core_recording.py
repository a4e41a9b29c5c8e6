"""A Python core's recording (testbed/harness/core_server.py): the builtin that records a
request (hooks.c, `Recorder.request_hook`) records what `core_event` and `pack_core`, the
readable reference, say, through the ctypes call it replaced."""

from __future__ import annotations

import ctypes

import pytest
from hypothesis import given
from hypothesis import strategies as st

from testbed.harness import recorder
from testbed.harness.recorder import Recorder, read_ring

_EVENTS = 64
_RING = (ctypes.c_uint64 * (1 + 2 * _EVENTS))()  # module-level: stays bound to the process
_COUNTER = ctypes.c_uint64(0)


class _Seg:
    def address(self, region: str, word: int = 0) -> int:
        return ctypes.addressof(_RING) + 8 * word


def _fresh() -> Recorder:
    r = Recorder(_Seg(), "ring", _EVENTS, ctypes.addressof(_COUNTER))
    _RING[0] = 0
    return r


def _events() -> list[tuple[int, int]]:
    events, whole = read_ring(memoryview(_RING).cast("B").cast("Q"))
    assert whole
    return [(e.event, e.what) for e in events]


u64 = st.integers(0, 2**64 - 1)


@given(op=st.one_of(st.integers(0, 300), u64), client=st.integers(0, 5000),
       status=st.integers(0, 300), key=st.one_of(st.integers(0, 2**21), u64))  # fmt: skip
def test_record_request_records_what_core_event_and_pack_core_say(op, client, status, key):
    rec = _fresh()
    rec.request_hook()(op, client, status, key)
    rec.record_what(recorder.core_event(op), recorder.pack_core(op, client, status, key))
    (a, b) = _events()
    assert a == b and a[0] == recorder.core_event(op)
    assert recorder.unpack_core(a[1]) == (
        min(op, recorder.MAX_CORE_OP), client & 0xFFF, status & 0xFF, key & 0xFFFFF,
    )  # fmt: skip


def test_record_request_takes_four_ints():
    record = _fresh().request_hook()
    with pytest.raises(TypeError, match="takes 4 arguments"):
        record(1, 2, 3)
    with pytest.raises(TypeError):
        record(1, 2, "ok", 0)
    assert _events() == []
