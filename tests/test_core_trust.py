"""Core trusts no request: a client acts only as its own PD, each PD has its own RAM quota,
and no word a client writes (an op near 2**64, a stray pending bit) crashes core."""

from __future__ import annotations

import ctypes

import pytest
from conftest import cli, scenario_text, user_files, vary

from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from kernel_model.genode.status import Status
from testbed.ipc import names
from testbed.ipc.native import Bitmap
from testbed.ipc.segment import Layout, Segment
from testbed.scenarios._mmu import MmuCore, mmu_core_regions, mmu_regions


@pytest.fixture(params=["c", "python"])
def hostile(tmp_path, request) -> str:
    """The hostile scenario on either core: the C core (the default of the built-ins, its
    requests served and recorded in C) and the readable Python one."""
    path = tmp_path / f"hostile_{request.param}.py"
    text = vary(scenario_text("hostile.py"), 'CORE = "python"', f'CORE = "{request.param}"')
    path.write_text(text)
    return str(path)


def stress(ref: str, variant: str, *extra: str):
    return cli("stress", ref, "--variant", variant, "--rounds", "1", "--lock-timeout", "10", *extra)


def test_a_client_cannot_ask_core_as_another_pd(hostile):
    r = stress(hostile, "other-pd")
    assert r.code == 3, r.out + r.err
    assert "core_call(1)" in r.doc["reasons"][0] and "PD 0" in r.doc["reasons"][0]


def test_a_forged_pd_word_is_ignored_core_serves_the_session(hostile):
    r = stress(hostile, "forged-word")
    assert r.code == 0, r.out + r.err
    assert r.doc["outcomes"] == {"ok": 1, "refused": 0, "harmed": 0}


@pytest.mark.parametrize("log", [(), ("--core-log", "core.jsonl")])  # in place; core.serve
@pytest.mark.parametrize("record", ["--record", "--no-record"])
def test_an_op_near_2_64_is_answered_invalid_op(hostile, record, log):
    r = stress(hostile, "huge-op", record, *log)
    assert r.code == 0, r.out + r.err
    assert r.doc["outcomes"] == {"ok": 1, "refused": 1, "harmed": 0}


def test_a_pending_bit_of_no_client_is_dropped(hostile):
    r = stress(hostile, "stray-bit")
    assert r.code == 0, r.out + r.err
    assert r.doc["outcomes"] == {"ok": 1, "refused": 0, "harmed": 0}


def make_core(npds: int = 2) -> Core:
    maps = [bytearray(8 * Bitmap.words(layout.AREA_PAGES)) for _ in range(npds)]
    bufs = [(ctypes.c_char * len(m)).from_buffer(m) for m in maps]
    core = Core(
        npds, lambda pd: Bitmap(ctypes.addressof(bufs[pd]), layout.AREA_PAGES), layout.AREA_SIZE
    )
    core._keep = bufs
    return core


def test_each_pd_has_its_own_ram_quota():
    core = make_core()
    while core.serve(Op.RAM_ALLOC, 0, layout.SLOT_SIZE, 0, 0)[0] == Status.OK:
        pass
    assert core.serve(Op.RAM_ALLOC, 0, layout.PAGE_SIZE, 0, 0)[0] == Status.OUT_OF_RAM
    st, ds = core.serve(Op.RAM_ALLOC, 1, layout.SLOT_SIZE, 0, 0)
    assert st == Status.OK
    assert core.serve(Op.RAM_FREE, 1, ds, 0, 0)[0] == Status.OK


def test_each_pd_has_its_own_dataspace_limit():
    core = make_core()
    core.ram.max_dataspaces = 3
    for _ in range(3):
        assert core.serve(Op.RAM_ALLOC, 0, 1, 0, 0)[0] == Status.OK
    assert core.serve(Op.RAM_ALLOC, 0, 1, 0, 0)[0] == Status.OUT_OF_RAM
    assert core.serve(Op.RAM_ALLOC, 1, 1, 0, 0)[0] == Status.OK


@pytest.mark.parametrize("bad", [-1, 1 << 64, -(1 << 70)])
def test_arguments_a_mailbox_cannot_hold_are_refused_before_anything_counts(bad, tmp_path):
    lay = Layout()
    for name, words in {**mmu_regions(1, 2), **mmu_core_regions(1)}.items():
        lay.add_words(name, words)
    seg = Segment.create(names.new_prefix() + ".seg", lay)
    try:
        core = MmuCore(seg, 1, flat=True)
        for args in ((bad, 2, 0), (layout.AREA_BASE, 2, bad), (layout.AREA_BASE, bad, 0)):
            assert core.serve(Op.FAULT, 0, *args)[0] == Status.INVALID_ARGUMENT
        assert core.pagers[0].resolved == core.pagers[0].unresolvable == 0
        assert list(seg.words("faults")[:2]) == [0, 0]
    finally:
        seg.close()
        seg.unlink()


def test_any_op_is_recorded_and_named_in_a_trace():
    from testbed.harness import recorder
    from testbed.scenarios.genode_race import SCENARIO

    for op in (255, 256, 1 << 40, (1 << 64) - 1):
        event = recorder.core_event(op)
        assert recorder.CORE_EVENT <= event < recorder.OUTCOME_EVENT
        packed_op, client, status, _ = recorder.unpack_core(recorder.pack_core(op, 3, 10, 7))
        assert (packed_op, client, status) == (recorder.MAX_CORE_OP, 3, 10)
        assert SCENARIO.core_event(packed_op, status, 0) == {"op": "op255", "status": "invalid_op"}


def test_a_fault_count_at_2_64_minus_1_in_shared_memory_does_not_crash_core():
    """The counts are core's own: an actor writing the shared words changes what the result
    shows at most, never core (it used to add 1 to the shared word: OverflowError)."""
    lay = Layout()
    for name, words in {**mmu_regions(1, 2), **mmu_core_regions(1)}.items():
        lay.add_words(name, words)
    seg = Segment.create(names.new_prefix() + ".seg", lay)
    try:
        core = MmuCore(seg, 1, flat=True)
        seg.words("faults")[:2] = memoryview(bytearray(16)).cast("Q")
        seg.words("faults")[0] = seg.words("faults")[1] = (1 << 64) - 1
        assert core.serve(Op.FAULT, 0, layout.AREA_BASE, 2, 0)[0] == Status.OK
        assert core.serve(Op.FAULT, 0, layout.AREA_BASE - 4096, 2, 0)[0] != Status.OK
        assert list(seg.words("faults")[:2]) == [1, 1]
    finally:
        seg.close()
        seg.unlink()


@pytest.mark.parametrize("variant, status", [("top-bit", (1 << 64) - 1), ("unknown", 99)])
def test_a_garbage_status_word_is_named_not_taken_for_a_timeout(tmp_path, variant, status):
    """A status word with its top bit set once read as tb_call's "no reply" (-1): the
    client said "no reply from core within 10 s" at once. Now the Genode session names the
    word and the valid statuses, and the run aborts naming the actor (exit 3)."""
    path = user_files(tmp_path, "garbage_status.py") / "garbage_status.py"
    r = stress(str(path), variant)
    assert r.code == 3, r.out + r.err
    reason = r.doc["reasons"][0]
    assert reason.startswith("pd0.main (pid ") and "UnknownStatus" in reason, reason
    assert f"with status {status} (0x{status:x})" in reason and "expected 0..13" in reason
    assert "no reply" not in reason


def test_a_status_word_with_its_top_bit_set_comes_back_as_it_is(tmp_path):
    path = user_files(tmp_path, "garbage_status.py") / "garbage_status.py"
    r = stress(str(path), "raw")
    assert r.code == 0, r.out + r.err
    assert r.doc["outcomes"] == {"answered": 1, "misread": 0}
