"""The C library: bitmap ranges against a Python model, atomics under real concurrency."""

from __future__ import annotations

import ctypes

import multiprocess
from hypothesis import given, settings
from hypothesis import strategies as st

from testbed.ipc.native import Atomics, Bitmap, address_of

NBITS = 300


def _model_first(bits: list[bool], start: int, n: int, value: bool) -> int:
    for i in range(start, start + n):
        if bits[i] == value:
            return i
    return -1


ranges = st.tuples(st.integers(0, NBITS), st.integers(0, NBITS)).map(
    lambda t: (min(t), max(t) - min(t))
)


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.booleans(), ranges), max_size=20), probe=ranges)
def test_bitmap_ranges_match_a_python_model(ops, probe):
    buf = bytearray(8 * Bitmap.words(NBITS))
    bm = Bitmap(address_of(buf), NBITS)
    model = [False] * NBITS
    for set_it, (start, n) in ops:
        (bm.set_range if set_it else bm.clear_range)(start, n)
        for i in range(start, start + n):
            model[i] = set_it
    start, n = probe
    assert bm.first_set(start, n) == _model_first(model, start, n, True)
    assert bm.first_clear(start, n) == _model_first(model, start, n, False)
    assert bm.count(start, n) == sum(model[start : start + n])
    assert bm.any_set(start, n) == any(model[start : start + n])


def test_bitmap_rejects_ranges_outside_it():
    buf = bytearray(64)
    bm = Bitmap(address_of(buf), 100)
    for start, n in ((0, 101), (-1, 2), (99, 2)):
        try:
            bm.set_range(start, n)
        except IndexError as e:
            assert "outside [0, 100)" in str(e)
        else:
            raise AssertionError(f"range ({start}, {n}) accepted")


def test_cas_answers_the_old_value_and_swaps_only_on_match():
    word = (ctypes.c_uint64 * 1)(5)
    a, addr = Atomics(), ctypes.addressof(word)
    assert a.cas(addr, 4, 9) == 5 and word[0] == 5
    assert a.cas(addr, 5, 9) == 5 and word[0] == 9
    assert a.exchange(addr, 1) == 9 and a.load(addr) == 1


def _hammer(name: str, n: int) -> None:
    import mmap

    import posix_ipc

    from testbed.ipc.native import Atomics, address_of

    shm = posix_ipc.SharedMemory(name)
    mm = mmap.mmap(shm.fd, 4096)
    shm.close_fd()
    a, addr = Atomics(), address_of(mm)
    for _ in range(n):
        a.fetch_add(addr, 1)


def test_fetch_add_from_two_processes_loses_nothing():
    import mmap
    import os
    import secrets

    import posix_ipc

    name = f"/tbtest.{os.getpid()}.{secrets.token_hex(4)}"
    shm = posix_ipc.SharedMemory(name, posix_ipc.O_CREX, size=4096)
    try:
        mm = mmap.mmap(shm.fd, 4096)
        ctx = multiprocess.get_context("forkserver")
        procs = [ctx.Process(target=_hammer, args=(name, 20000)) for _ in range(2)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0, 0]
        assert Atomics().load(address_of(mm)) == 40000
    finally:
        shm.close_fd()
        shm.unlink()


_RING = (ctypes.c_uint64 * (1 + 2 * 8))()  # module-level: the process's recorder stays bound
_COUNTER = ctypes.c_uint64(0)


class _Seg:
    def address(self, region: str, word: int = 0) -> int:
        return ctypes.addressof(_RING) + 8 * word


def test_an_access_records_its_event_with_the_ticket_it_took():
    from testbed.harness.recorder import Recorder, read_ring

    rec = Recorder(_Seg(), "ring", 8, ctypes.addressof(_COUNTER))
    _RING[0], _COUNTER.value = 0, 40
    words = (ctypes.c_uint64 * 4)(0, 2**64 - 1, 7, 0)
    store = rec.store_at(3, ctypes.addressof(words), len(words))
    find = rec.find_at(4, ctypes.addressof(words) + 8, len(words) - 1)
    store(3, 0xFEDCBA9876543210)
    assert words[3] == 0xFEDCBA9876543210
    assert find(0xFEDCBA9876543210, 3) and not find(0xFEDCBA9876543210, 2)
    assert find(2**64 - 1, 1) and find(7, 2) and not find(0, 0)
    events, whole = read_ring(memoryview(_RING).cast("B").cast("Q"))
    assert whole and [(e.ticket, e.event, e.what) for e in events] == [
        (40, 3, 0), (41, 4, 0), (42, 4, 0), (43, 4, 0), (44, 4, 0), (45, 4, 0),
    ]  # fmt: skip
    assert _COUNTER.value == 46
