"""Core trusts no request: a client acts only as its own PD, each PD has its own RAM quota,
and no word a client writes (an op near 2**64, a stray pending bit) crashes core."""

from __future__ import annotations

import ctypes
import textwrap

import pytest
from conftest import cli

from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from kernel_model.genode.status import Status
from scenarios._mmu import MmuCore, mmu_core_regions, mmu_regions
from testbed.ipc import names
from testbed.ipc.native import Bitmap
from testbed.ipc.segment import Layout, Segment

HOSTILE = '''
"""PD 0 attacks core; PD 1 then attaches where PD 0 tried to. Not a scenario of the tree."""
from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from testbed import Grade, Outcome, Scenario
from testbed.harness.stats import WORDS  # noqa: F401  (the harness is importable)
from testbed.ipc.native import Bitmap

ACC, FORB = Grade.ACCEPTABLE, Grade.FORBIDDEN
OFFSET = 5 * layout.SLOT_SIZE


class Hostile(Scenario):
    name = "hostile"
    variants = {v: "an attack" for v in ("other-pd", "huge-op", "stray-bit", "forged-word")}
    outcomes = (
        Outcome("ok", "served", {v: ACC for v in variants}),
        Outcome("refused", "refused", {v: ACC for v in variants}),
        Outcome("harmed", "PD 1 lost its range to PD 0", {v: FORB for v in variants}),
    )

    def actors(self, config):
        return [("pd0.main", {"pd": 0}), ("pd1.main", {"pd": 1})]

    def regions(self, config):
        return {"pages0": Bitmap.words(layout.AREA_PAGES), "pages1": Bitmap.words(layout.AREA_PAGES),
                "sync": 1}

    def core(self, seg, config):
        return Core(2, lambda pd: Bitmap(seg.address(f"pages{pd}"), layout.AREA_PAGES),
                    ram_quota=layout.AREA_SIZE)

    def run_actor(self, env, actor):
        variant, sync = env.config["variant"], env.words("sync")
        if actor.pd == 0:
            if variant == "other-pd":
                call = env.core_call(1)  # refused: the session is PD 0's
            else:
                call = env.core_call(0)
            if variant == "huge-op":
                st, _ = call((1 << 64) - 1, 1, 2, 3)
                env.record("refused" if st == 10 else "ok")  # INVALID_OP
            if variant == "stray-bit":  # a pending bit for client 40, which does not exist
                env.words("pending")[0] |= 1 << 40
            if variant == "forged-word":  # the old PD word of its mailbox says PD 1
                env._client.w[2] = 1  # its own mailbox: the only one it maps
            st, ds = call(int(Op.RAM_ALLOC), layout.SLOT_SIZE)
            call(int(Op.ATTACH_AT), ds, OFFSET, layout.SLOT_SIZE)
            sync[0] = 1
            return
        while not sync[0]:
            if env.stopping():
                return
        call = env.core_call(1)
        st, ds = call(int(Op.RAM_ALLOC), layout.SLOT_SIZE)
        st, _ = call(int(Op.ATTACH_AT), ds, OFFSET, layout.SLOT_SIZE)
        env.record("ok" if st == 0 else "harmed")


SCENARIO = Hostile()
'''


@pytest.fixture
def hostile(tmp_path) -> str:
    path = tmp_path / "hostile.py"
    path.write_text(textwrap.dedent(HOSTILE))
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


@pytest.mark.parametrize("record", ["--record", "--no-record"])
def test_an_op_near_2_64_is_answered_invalid_op(hostile, record):
    r = stress(hostile, "huge-op", record, "--core-log", "core.jsonl")
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
    from scenarios.genode_race import SCENARIO
    from testbed.harness import recorder

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
