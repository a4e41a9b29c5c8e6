"""The recording access-level views (testbed/ipc/access_hooks.c behind testbed/harness/
access.py): each access records and answers exactly what the ctypes call it replaced
(recorder.c's tb_acc_*) does, and a view that records acts like the plain one."""

from __future__ import annotations

import ctypes

import pytest

from testbed.harness.access import AccessBitmap, AccessWords, access_words
from testbed.harness.recorder import Recorder, read_ring
from testbed.ipc.native import address_of, lib
from testbed.trace.access_points import SLICE, bits_what

_EVENTS = 256
_RING = (ctypes.c_uint64 * (1 + 2 * _EVENTS))()  # module-level: stays bound to the process
_COUNTER = ctypes.c_uint64(0)
R, W = 7, 8  # the region's read and write event ids


class _Seg:
    def address(self, region: str, word: int = 0) -> int:
        return ctypes.addressof(_RING) + 8 * word


@pytest.fixture
def rec() -> Recorder:
    r = Recorder(_Seg(), "ring", _EVENTS, ctypes.addressof(_COUNTER))
    _RING[0], _COUNTER.value = 0, 100
    return r


def _events() -> list[tuple[int, int]]:
    """(event, what) of each event recorded since the fixture, in ticket order."""
    events, whole = read_ring(memoryview(_RING).cast("B").cast("Q"))
    assert whole and [e.ticket for e in events] == list(range(100, 100 + len(events)))
    return [(e.event, e.what) for e in events]


def _words(n: int) -> tuple[bytearray, memoryview, int]:
    buf = bytearray(8 * n)
    return buf, memoryview(buf).cast("Q"), address_of(buf)


def test_a_recording_view_s_accesses_are_the_builtins_and_record_as_ctypes_did(rec):
    buf, view, addr = _words(6)
    w = access_words(view, addr, R, W, None, lib())
    assert type(w).__getitem__ is w._load  # no Python frame an access
    w[1] = 5
    w[-1] = 2**64 - 1
    w[2:4] = [7, 8]
    assert w[1] == 5 and w[-1] == 2**64 - 1 and w[1:4] == [5, 7, 8]
    assert w[::2] == [0, 7, 0] and w[4:0:-2] == [0, 7] and w[3:3] == [] and w[5:1] == []
    assert len(w) == 6 and 8 in w and list(w) == [0, 5, 7, 8, 0, 2**64 - 1]
    mine = _events()
    # the same accesses through the ctypes calls, in the same order, into the same ring
    _RING[0], _COUNTER.value = 0, 100
    so, out = lib(), (ctypes.c_uint64 * 6)()
    base = ctypes.c_void_p(addr)
    for i, v in ((1, 5), (5, 2**64 - 1), (2, 7), (3, 8)):
        so.tb_acc_store(W, base, i, v & 0xFFFFFFFF, v >> 32)
    so.tb_acc_load(R, base, 1), so.tb_acc_load(R, base, 5)
    for start, n in ((1, 3), (0, 5), (2, 3), (0, 6), (0, 6)):  # [::2], [4:0:-2]: one read
        so.tb_acc_copy(R, base, start, n, out)  # each from its first word to its last
    assert mine == _events()
    assert mine[6] == (R, 3 * SLICE + 1)
    assert view.tolist() == [0, 5, 7, 8, 0, 2**64 - 1]


def test_a_recording_view_rejects_what_the_plain_one_does_and_records_nothing(rec):
    _, view, addr = _words(4)
    recorded = access_words(view, addr, R, W, None, lib())
    plain = AccessWords(view, addr, R, W, None, None)
    for w in (recorded, plain):
        with pytest.raises(IndexError, match=r"word 4 outside 0\.\.3"):
            w[4]
        with pytest.raises(IndexError, match=r"word -1 outside 0\.\.3"):
            w[-5] = 1
        for bad in (-1, 2**64):
            with pytest.raises(ValueError, match="expected 0..2\\*\\*64-1"):
                w[0] = bad
        with pytest.raises(ValueError, match="3 values for 2 words"):
            w[0:2] = [1, 2, 3]
        with pytest.raises(TypeError):
            w["x"]
    assert _events() == [] and view.tolist() == [0, 0, 0, 0]


def test_a_view_with_a_point_before_keeps_the_python_path_and_still_records(rec):
    _, view, addr = _words(4)
    seen: list[int] = []
    w = access_words(view, addr, R, W, seen.append, lib())
    assert type(w) is AccessWords
    w[2] = 9
    assert w[2] == 9 and w[1:3] == [0, 9]
    assert seen == [2 << 16 | W, 2 << 16 | R, (2 * SLICE + 1) << 16 | R]
    assert _events() == [(W, 2), (R, 2), (R, 2 * SLICE + 1)]


def test_a_recording_bitmap_records_as_ctypes_did_and_checks_its_ranges(rec):
    buf = bytearray(8 * 4)
    addr = address_of(buf)
    bm = AccessBitmap(addr, 200, R, W, None, lib())
    bm.set_range(3, 70)
    assert bm.first_clear(0, 200) == 0 and bm.first_set(0, 200) == 3
    assert bm.count() == 70 and bm.any_set(72, 1) and not bm.any_set(73, 5)
    bm.clear_range(3, 1)
    assert bm.first_set(0, 200) == 4
    with pytest.raises(IndexError, match=r"bit range \[190, 201\) outside \[0, 200\)"):
        bm.first_set(190, 11)
    with pytest.raises(IndexError):
        bm.set_range(-1, 2)
    what = [(W, bits_what(3, 70)), (R, bits_what(0, 200)), (R, bits_what(0, 200))]
    what += [(R, bits_what(0, 200)), (R, bits_what(72, 1)), (R, bits_what(73, 5))]
    what += [(W, bits_what(3, 1)), (R, bits_what(0, 200))]
    assert _events() == what
