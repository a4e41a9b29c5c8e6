"""The kernel model on its own: layout, core's validation, the thread list, the allocators."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel_model.genode import layout
from kernel_model.genode.context_allocator import VARIANTS
from kernel_model.genode.core import Core, CoreConnection, Op
from kernel_model.genode.errors import Reason, StackAllocFailed
from kernel_model.genode.status import Status
from kernel_model.genode.thread_list import ThreadList
from testbed.ipc.native import Bitmap, address_of


class FreeLock:
    def acquire(self):
        pass

    def release(self):
        pass


def make_core(npds: int = 2):
    bufs = [bytearray(8 * Bitmap.words(layout.AREA_PAGES)) for _ in range(npds)]
    core = Core(npds, lambda pd: Bitmap(address_of(bufs[pd]), layout.AREA_PAGES), 1 << 30)
    core._keep = bufs  # the bitmaps' memory lives as long as the core
    return core


def make_allocator(variant: str, core: Core, pd: int = 0):
    words = memoryview(bytearray(8 * ThreadList.words_needed(512))).cast("Q")
    threads = ThreadList(words)
    threads.reset()
    slots = bytearray(8 * Bitmap.words(layout.NUM_SLOTS))
    conn = CoreConnection(lambda op, a0, a1, a2: core.serve(op, pd, a0, a1, a2))
    alloc = VARIANTS[variant](
        threads, FreeLock(), FreeLock(), conn, Bitmap(address_of(slots), layout.NUM_SLOTS)
    )
    alloc._keep = slots  # the slot bitmap's memory lives as long as the allocator
    return alloc


def test_layout_matches_the_report():
    # "for instance 0x400f.c000" is attached at offset "0xf.c000": slot 0, a 16 KiB dataspace
    assert layout.stack_offset(0, 16 * 1024 - layout.CONTEXT_RECORD_SIZE) == 0xFC000
    assert layout.AREA_BASE + layout.stack_offset(0, 16000) == 0x400FC000
    assert layout.context_address(0) == 0x40100000 - layout.CONTEXT_RECORD_SIZE
    assert layout.slot_of_context(layout.context_address(7)) == 7
    assert layout.NUM_SLOTS == 256
    assert layout.stack_ds_size(layout.MAX_STACK_SIZE) <= layout.SLOT_SIZE - 2 * layout.PAGE_SIZE


def test_core_answers_a_conflicting_attach_with_region_conflict():
    core = make_core()
    st, ds1 = core.serve(Op.RAM_ALLOC, 0, 0x4000, 0, 0)
    _, ds2 = core.serve(Op.RAM_ALLOC, 0, 0x4000, 0, 0)
    assert st == Status.OK
    assert core.serve(Op.ATTACH_AT, 0, ds1, 0xFC000, 0x4000) == (Status.OK, 0x400FC000)
    assert core.serve(Op.ATTACH_AT, 0, ds2, 0xFE000, 0x2000)[0] == Status.REGION_CONFLICT
    # the other PD has its own region map: the same range is free there
    _, ds3 = core.serve(Op.RAM_ALLOC, 1, 0x4000, 0, 0)
    assert core.serve(Op.ATTACH_AT, 1, ds3, 0xFC000, 0x4000)[0] == Status.OK
    assert core.serve(Op.RAM_FREE, 0, ds1, 0, 0)[0] == Status.DATASPACE_ATTACHED
    assert core.serve(Op.DETACH, 0, 0xFC000, 0, 0)[0] == Status.OK
    assert core.serve(Op.DETACH, 0, 0xFC000, 0, 0)[0] == Status.NOT_ATTACHED
    assert core.serve(Op.ATTACH_AT, 0, ds2, 0xFC000, 0x4000)[0] == Status.OK


@pytest.mark.parametrize(
    "op,pd,a0,a1,a2,status",
    [
        (Op.RAM_ALLOC, 5, 4096, 0, 0, Status.INVALID_PD),
        (Op.RAM_ALLOC, 0, 0, 0, 0, Status.INVALID_SIZE),
        (Op.RAM_ALLOC, 0, 1 << 40, 0, 0, Status.OUT_OF_RAM),
        (Op.ATTACH_AT, 0, 1, 0x100, 0x1000, Status.UNALIGNED),
        (Op.ATTACH_AT, 0, 1, 0, 0x1001, Status.UNALIGNED),
        (Op.ATTACH_AT, 0, 1, layout.AREA_SIZE, 0x1000, Status.INVALID_RANGE),
        (Op.ATTACH_AT, 0, 1, 0, 0x2000, Status.DATASPACE_TOO_SMALL),
        (Op.ATTACH_AT, 1, 1, 0, 0x1000, Status.INVALID_DATASPACE),  # PD 0's dataspace
        (Op.ATTACH_AT, 0, 99, 0, 0x1000, Status.INVALID_DATASPACE),
        (Op.DETACH, 0, 1 << 40, 0, 0, Status.INVALID_RANGE),
        (Op.RAM_FREE, 1, 1, 0, 0, Status.INVALID_DATASPACE),
        (77, 0, 0, 0, 0, Status.INVALID_OP),
    ],
)
def test_core_answers_bad_requests_with_an_error_code(op, pd, a0, a1, a2, status):
    core = make_core()
    assert core.serve(Op.RAM_ALLOC, 0, 0x1000, 0, 0) == (Status.OK, 1)
    assert core.serve(op, pd, a0, a1, a2)[0] == status


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),
            st.integers(-1, 3),
            st.integers(-(1 << 20), 1 << 30),
            st.integers(-(1 << 20), 1 << 30),
            st.integers(-(1 << 20), 1 << 30),
        ),
        max_size=30,
    )
)
def test_core_never_crashes_on_any_request(requests):
    core = make_core()
    for op, pd, a0, a1, a2 in requests:
        status, value = core.serve(op, pd, a0, a1, a2)
        assert isinstance(status, Status) and isinstance(value, int)


def test_thread_list_walk_sees_only_assigned_contexts():
    words = memoryview(bytearray(8 * ThreadList.words_needed(4))).cast("Q")
    tl = ThreadList(words)
    tl.reset()
    r1, r2 = tl.insert(), tl.insert()
    ctx = layout.context_address(0)
    assert not tl.is_in_use(ctx)  # inserted, _context unset: the report's window
    tl.assign(r1, ctx)
    assert tl.is_in_use(ctx)
    tl.remove(r1)
    assert not tl.is_in_use(ctx) and tl.contexts() == [0]
    tl.remove(r2)
    assert tl.contexts() == [] and words[0] == 0


def test_thread_list_hooks_do_its_two_racing_accesses():
    words = memoryview(bytearray(8 * ThreadList.words_needed(4))).cast("Q")
    calls = []

    def assign(record, context):
        calls.append(("assign", record, context))
        words[record] = context

    def find(context, n):
        calls.append(("find", context, n))
        return context in words[1 : 1 + n]

    tl = ThreadList(words, assign_hook=assign, find_hook=find)
    tl.reset()
    r1, _ = tl.insert(), tl.insert()
    ctx = layout.context_address(3)
    assert not tl.is_in_use(ctx)
    tl.assign(r1, ctx)
    assert tl.is_in_use(ctx) and tl.contexts() == [ctx, 0]
    assert calls == [("find", ctx, 2), ("assign", r1, ctx), ("find", ctx, 2)]


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sequential_creations_get_distinct_slots_until_exhaustion(variant):
    core = make_core(1)
    alloc = make_allocator(variant, core)
    stacks = []
    with pytest.raises(StackAllocFailed) as e:
        while True:
            stacks.append(alloc.create(16 * 1024))
    assert e.value.reason is Reason.OUT_OF_STACK_SPACE
    expected = layout.NUM_SLOTS - alloc.first_slot  # bitalloc keeps slot 0 for main
    assert len(stacks) == expected
    assert len({s.slot for s in stacks}) == expected
    assert all(s.mappings[0][1] == layout.stack_offset(s.slot, 16 * 1024) for s in stacks)
    for s in stacks[::2]:
        alloc.destroy(s)
    again = [alloc.create(16 * 1024) for _ in range(len(stacks[::2]))]
    assert {s.slot for s in again} == {s.slot for s in stacks[::2]}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_a_stack_too_large_for_its_slot_is_refused(variant):
    alloc = make_allocator(variant, make_core(1))
    with pytest.raises(StackAllocFailed) as e:
        alloc.create(layout.MAX_STACK_SIZE + 1)
    assert e.value.reason is Reason.STACK_TOO_LARGE
    assert alloc.create(layout.MAX_STACK_SIZE).size <= layout.SLOT_SIZE - 2 * layout.PAGE_SIZE
