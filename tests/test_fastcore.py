"""The C core against the Python core (the reference): the same answer to every request of
random sequences, bad requests included, and the same state at the end."""

from __future__ import annotations

import ctypes
import random

import pytest
from conftest import cli
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from kernel_model.genode.fastcore import FastCore
from kernel_model.genode.status import Status
from scenarios.genode_race import SCENARIO as RACE
from testbed.harness.run import RunOptions, run
from testbed.ipc.native import Bitmap, address_of

CONFIG = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}

U64 = (1 << 64) - 1
WORDS = Bitmap.words(layout.AREA_PAGES)


class Pair:
    """The two cores side by side, each on page bitmaps of its own."""

    def __init__(self, npds: int, quota: int, max_dataspaces: int = 1 << 16):
        self.bufs = [[bytearray(8 * WORDS) for _ in range(npds)] for _ in range(2)]
        py_bufs, c_bufs = self.bufs
        self.py = Core(npds, lambda pd: Bitmap(address_of(py_bufs[pd]), layout.AREA_PAGES), quota)
        self.py.ram.max_dataspaces = max_dataspaces
        self.c = FastCore(npds, [address_of(b) for b in c_bufs], quota, max_dataspaces)
        self.npds = npds

    def serve(self, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[Status, int]:
        want = self.py.serve(op, pd, a0, a1, a2)
        got = self.c.serve(op, pd, a0, a1, a2)
        assert got == want, (Op(op).name if op in {o.value for o in Op} else op, pd, a0, a1, a2)
        assert type(got[0]) is Status
        return want

    def assert_same_state(self) -> None:
        ram = self.py.ram
        assert [self.c.used(pd) for pd in range(self.npds)] == [
            ram.used[pd] for pd in range(self.npds)
        ]
        assert self.c.next_id() == ram.next_id
        assert self.c.count() == len(ram.dataspaces)
        ids = list(range(ram.next_id + 2))
        assert self.c.dataspaces(ids) == {
            ds: (d.owner, d.size, d.attached) for ds, d in ram.dataspaces.items()
        }
        for pd in range(self.npds):
            assert self.c.attachments(pd) == {
                off: (a.ds, a.size) for off, a in self.py.region_maps[pd].attachments.items()
            }
        assert self.bufs[0] == self.bufs[1]  # the page bitmaps, bit for bit


SLOT_TOP = layout.slot_offset(1)
OFFSETS = st.one_of(
    st.sampled_from([0, 0xFB000, 0xFC000, SLOT_TOP - 0x1000, 2 * SLOT_TOP - 0x5000]),
    st.integers(0, layout.AREA_SIZE // layout.PAGE_SIZE).map(lambda p: p * layout.PAGE_SIZE),
    st.sampled_from([layout.AREA_SIZE - 0x1000, layout.AREA_SIZE, layout.AREA_SIZE + 0x1000]),
    st.integers(0, U64),
)
SIZES = st.one_of(
    st.sampled_from([0, 1, 0x1000, 0x4000, 0x5000, 0x5001, layout.SLOT_SIZE, layout.AREA_SIZE]),
    st.integers(0, 64).map(lambda p: p * layout.PAGE_SIZE),
    st.integers(0, U64),
)
DS = st.one_of(st.integers(0, 12), st.integers(0, U64))
PDS = st.one_of(st.integers(0, 3), st.integers(0, U64))
REQUEST = st.one_of(
    st.tuples(st.just(Op.RAM_ALLOC), PDS, SIZES, st.integers(0, U64), st.integers(0, U64)),
    st.tuples(st.just(Op.ATTACH_AT), PDS, DS, OFFSETS, SIZES),
    st.tuples(st.just(Op.DETACH), PDS, OFFSETS, st.just(0), st.just(0)),
    st.tuples(st.just(Op.RAM_FREE), PDS, DS, st.just(0), st.just(0)),
    st.tuples(st.sampled_from([Op.NULL, Op.FAULT]), PDS, OFFSETS, st.integers(0, 4), DS),
    st.tuples(st.integers(6, U64), PDS, DS, OFFSETS, SIZES),  # unknown ops
)


@settings(max_examples=300, deadline=None)
@given(
    requests=st.lists(REQUEST, max_size=80),
    npds=st.integers(1, 3),
    quota=st.sampled_from([0, 0x10000, 0x100000, 1 << 30]),
    max_dataspaces=st.sampled_from([1, 4, 1 << 16]),
)
def test_c_core_answers_as_the_python_core(requests, npds, quota, max_dataspaces):
    pair = Pair(npds, quota, max_dataspaces)
    for op, pd, a0, a1, a2 in requests:
        pair.serve(int(op), pd, a0, a1, a2)
    pair.assert_same_state()


def test_many_create_destroy_cycles_with_churn():
    """Thread creations and destructions as the allocators make them, in a random order,
    with stray requests between: long enough that dataspace ids wrap the C core's table
    many times over and its deletions shift entries."""
    rng = random.Random(13)
    pair = Pair(2, 64 * 0x5000, max_dataspaces=24)
    live: list[tuple[int, int, int]] = []  # (pd, ds, offset)
    for step in range(20000):
        pd = rng.randrange(2)
        if live and (len(live) > 20 or rng.random() < 0.45):
            pd, ds, offset = live.pop(rng.randrange(len(live)))
            assert pair.serve(Op.DETACH, pd, offset, 0, 0)[0] == Status.OK
            assert pair.serve(Op.RAM_FREE, pd, ds, 0, 0)[0] == Status.OK
        else:
            size = layout.stack_ds_size(rng.choice([4096, 16 * 1024, 64 * 1024]))
            st_, ds = pair.serve(Op.RAM_ALLOC, pd, size, 0, 0)
            if st_ == Status.OK:
                offset = layout.stack_offset(rng.randrange(layout.NUM_SLOTS), size - 256)
                st_, _ = pair.serve(Op.ATTACH_AT, pd, ds, offset, size)
                if st_ == Status.OK:
                    live.append((pd, ds, offset))
                else:
                    assert pair.serve(Op.RAM_FREE, pd, ds, 0, 0)[0] == Status.OK
        if step % 7 == 0:  # a stray request: another PD's ds, a free of an attached one
            pair.serve(
                rng.choice([Op.RAM_FREE, Op.DETACH]), rng.randrange(3), rng.randrange(40), 0, 0
            )
        if step % 2000 == 0:
            pair.assert_same_state()
    pair.assert_same_state()
    assert pair.py.ram.next_id > 1000


def test_mailbox_path_answers_in_place():
    pair = Pair(1, 1 << 30)
    mb = bytearray(64)
    words = memoryview(mb).cast("Q")
    words[1:6] = memoryview(bytearray(40)).cast("Q")
    words[1], words[2], words[3] = Op.RAM_ALLOC, 0, 0x5000
    serve = pair.c.mailbox_server()
    assert serve(ctypes.c_void_p(address_of(mb)), 0) == Status.OK
    assert words[6] == Status.OK and words[7] == 1
    words[1], words[2] = Op.RAM_FREE, 7  # an unknown PD
    assert serve(ctypes.c_void_p(address_of(mb)), 0) == Status.INVALID_PD
    assert words[6] == Status.INVALID_PD and words[7] == 0


def test_the_mailbox_server_keeps_its_core_alive():
    buf = bytearray(8 * WORDS)
    serve = FastCore(1, [address_of(buf)], 1 << 30).mailbox_server()  # no other reference
    mb = bytearray(64)
    words = memoryview(mb).cast("Q")
    words[1], words[2], words[3] = Op.RAM_ALLOC, 0, 0x5000
    assert serve(ctypes.c_void_p(address_of(mb)), 0) == Status.OK and words[7] == 1


@pytest.mark.parametrize("record", [False, True])  # in place, and through core.serve
@pytest.mark.parametrize("core", ["c", "python"])
def test_a_real_run_on_either_core(core, record, no_leftovers):
    doc = run(
        RunOptions(RACE, "fixed", {**CONFIG, "core": core}, rounds=30, record=record, max_traces=0)
    )
    assert doc["verdict"] == "pass", doc["reasons"]
    assert doc["config"]["core"] == core
    assert doc["outcomes"]["ok"] == 2 * 30 * 4


def test_the_racy_variant_conflicts_on_the_c_core(no_leftovers):
    doc = run(
        RunOptions(
            RACE, "racy", {**CONFIG, "core": "c"}, rounds=2000, pin="same", max_failures=1,
            perturb="yield:1", record=False, seed=3,
        )
    )  # fmt: skip
    assert doc["outcomes"]["region_conflict"] >= 1


def test_a_bad_core_is_exit_2_naming_it():
    r = cli("stress", "genode-race", "--variant", "fixed", "--core", "rust", "--rounds", "1")
    assert r.code == 2
    assert "--core 'rust': expected one of c, python" in r.err


@settings(max_examples=200, deadline=None)
@given(
    op=st.integers(0, 255),
    client=st.integers(0, 4095),
    status=st.integers(0, 255),
    a0=st.integers(0, U64),
    a1=st.integers(0, U64),
)
def test_the_c_core_records_requests_as_the_core_server_does(op, client, status, a0, a1):
    """The C core packs a served request's event itself: the same word as recorder.pack_core
    with Core.key, so a change of the trace format breaks this test, not a trace."""
    from kernel_model.genode.fastcore import lib as fastcore_lib
    from testbed.harness import recorder

    key = Core.key(op, a0, a1, 0)
    c_key = a1 >> 20 if op == Op.ATTACH_AT else a0 >> 20 if op == Op.DETACH else 0
    assert c_key == key
    assert fastcore_lib().fc_pack(op, client, status, key) == recorder.pack_core(
        op, client, status, key
    )


def test_a_recorded_run_on_the_c_core_has_core_events_in_its_trace(tmp_path, no_leftovers):
    from testbed import Trace

    doc = run(
        RunOptions(
            RACE, "quickfix", {**CONFIG, "core": "c"}, duration_s=60, pin="same", max_failures=1,
            seed=3, record=True, trace_dir=str(tmp_path), max_traces=1,
        )
    )  # fmt: skip
    assert doc["trace_files"], doc["outcomes"]
    events = Trace.load(doc["trace_files"][0]).events
    core = [e.detail for e in events if e.kind == "core"]
    assert core and {e["op"] for e in core} >= {"ram_alloc", "attach_at"}, core[:3]
    assert any(e["status"] == "region_conflict" for e in core)
