"""The C builtins of the hot paths (testbed/ipc/hooks.c): each records and answers exactly
what the ctypes path it replaced does, and rejects what it cannot take."""

from __future__ import annotations

import ctypes
import os
import secrets

import posix_ipc
import pytest

import testbed
from testbed.harness.recorder import Recorder, read_ring
from testbed.ipc import mailbox
from testbed.ipc.control import ABORT, CORE_WAITING
from testbed.ipc.native import lib
from testbed.scenarios.core_roundtrip import SCENARIO as ROUNDTRIP

_RING = (ctypes.c_uint64 * (1 + 2 * 16))()  # module-level: the process's recorder stays bound
_COUNTER = ctypes.c_uint64(0)


class _Seg:
    def address(self, region: str, word: int = 0) -> int:
        return ctypes.addressof(_RING) + 8 * word


def _events() -> list[tuple[int, int, int]]:
    events, whole = read_ring(memoryview(_RING).cast("B").cast("Q"))
    assert whole
    return [(e.ticket, e.event, e.what) for e in events]


@pytest.fixture
def rec() -> Recorder:
    r = Recorder(_Seg(), "ring", 16, ctypes.addressof(_COUNTER))
    _RING[0], _COUNTER.value = 0, 100
    return r


def test_the_point_hook_records_what_the_ctypes_call_did(rec):
    ids: dict[str, int | None] = {"create": 0, "search.slot": 5, "context.assign": 13}
    point = rec.point_hook(ids)
    assert point("create") is None and point("search.slot") is None
    lib().tb_rec(5)  # the ctypes path, into the same ring, the same counter
    ids["context.assign"] = None  # now recorded by its access: the hook records nothing
    point("context.assign")
    assert _events() == [(100, 0, 0), (101, 5, 0), (102, 5, 0)]
    assert _COUNTER.value == 103


def test_the_ticket_hook_answers_each_ticket_and_the_access_s_next_one(rec):
    ticketed = rec.point_hook({"a": 1, "b": None}, ticket=True)
    assert [ticketed("a"), ticketed("b"), ticketed("a")] == [100, 101, 101]
    assert _events() == [(100, 1, 0), (101, 1, 0)]


def test_the_hooks_reject_what_they_cannot_record(rec):
    point = rec.point_hook({"a": 1})
    with pytest.raises(KeyError, match="no schedule point 'nope'"):
        point("nope")
    for bad in (-1, 0x10000):
        with pytest.raises(ValueError, match=r"outside \[0, 65535\]"):
            rec.record(bad)
    words = (ctypes.c_uint64 * 2)()
    store = rec.store_at(3, ctypes.addressof(words), len(words))
    with pytest.raises(TypeError, match="takes 2 arguments"):
        store(1)
    with pytest.raises(OverflowError):
        store(0, -1)
    with pytest.raises(OverflowError):
        store(0, 2**64)
    for index in (2, 2**32, 2**64 - 1):  # past the region's two words (2**32: no truncation)
        with pytest.raises(
            IndexError, match=rf"store\({index}, value\): expected an index in 0..1"
        ):
            store(index, 5)
    find = rec.find_at(4, ctypes.addressof(words), len(words))
    with pytest.raises(IndexError, match=r"find\(value, 3\): expected n in 0..2"):
        find(0, 3)
    assert list(words) == [0, 0]
    assert _events() == [] and _COUNTER.value == 100  # nothing half-recorded
    assert rec.record(0x8000 + 2) == 100 and _events() == [(100, 0x8002, 0)]


def test_a_request_with_no_core_raises_core_unreachable_after_the_timeout():
    words = (ctypes.c_uint64 * 32)()

    class Seg:
        def words(self, region: str) -> memoryview:
            return memoryview(words).cast("B").cast("Q")

        def address(self, region: str, word: int = 0) -> int:
            base = {"mailboxes": 0, "pending": 8, "control": 16}[region]
            return ctypes.addressof(words) + 8 * (base + word)

    tag = f"/tbtest.{os.getpid()}.{secrets.token_hex(3)}"
    sems = [posix_ipc.Semaphore(tag + s, posix_ipc.O_CREX) for s in (".door", ".reply")]
    try:
        client = mailbox.Client(Seg(), 0, sems[0].name, sems[1].name, 0.0, 0.05)
        with pytest.raises(TypeError, match="1 to 4 arguments"):
            client.call()
        with pytest.raises(TypeError, match="unexpected keyword argument 'a3'"):
            client.call(0, a3=1)
        with pytest.raises(TypeError, match="multiple values for argument 'a0'"):
            client.call(0, 1, a0=1)
        with pytest.raises(mailbox.CoreUnreachable, match="no reply from core within 0.05 s"):
            client.call(0, 1, 2, 3)
        assert list(words[1:6]) == [0, 0, 1, 2, 3]  # the request was written: op, -, a0..a2
        words[0] = 0
        with pytest.raises(mailbox.CoreUnreachable):
            client.call(op=4, a2=9)  # keywords, as the ActorEnv's call takes them
        assert list(words[1:6]) == [4, 0, 0, 0, 9]
        words[0] = 0
        words[16 + ABORT], words[16 + CORE_WAITING] = 1, 1
        with pytest.raises(mailbox.CoreUnreachable, match="aborted"):
            client.call(0)
        assert words[16 + CORE_WAITING] == 0 and sems[0].value == 1  # it rang the doorbell
    finally:
        for s in sems:
            s.unlink()
            s.close()


@pytest.mark.parametrize("core", ["c", "python"])
def test_requests_go_round_with_either_core(core, no_leftovers):
    """The client's builtin against core's loop in C (core c) and in Python (core python)."""
    result = testbed.run(ROUNDTRIP, variant="null", clients=2, calls=500, core=core, rounds=3)
    assert result.verdict == "pass", result.document["reasons"]
    assert result.document["config"]["core"] == core
    assert result.document["outcomes"] == {"ok": 3000, "error": 0}
