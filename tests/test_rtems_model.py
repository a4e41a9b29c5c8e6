"""The RTEMS model in-process: stack records and shares, the allocator, the TLB, the switch."""

from __future__ import annotations

import array

import pytest

from kernel_model.page_table import PAGE_SIZE, Fault, PageTable, Perm
from kernel_model.rtems.cpu_mmu import CpuMmu, Translation
from kernel_model.rtems.stack import (
    MAX_SHARES,
    RTEMS_TOO_MANY,
    Access,
    Share,
    StackRecord,
    StackRecords,
    TooManyShares,
    perm_of,
)
from kernel_model.rtems.stack_allocator import (
    STACK_AREA_BASE,
    OutOfStackArea,
    StackAllocator,
    StackSizeError,
)
from kernel_model.rtems.switch import ProtectedSwitch
from kernel_model.rtems.tlb import Tlb
from testbed.ipc.native import PageBytes, address_of

NPAGES = 64
BASE = STACK_AREA_BASE


def table() -> PageTable:
    buf = bytearray(NPAGES)
    pt = PageTable(PageBytes(address_of(buf), NPAGES), BASE, NPAGES)
    pt._keep = buf  # the table points into buf
    return pt


def tlb() -> Tlb:
    return Tlb(array.array("Q", [0] * 16))


def page(address: int) -> int:
    return (address - BASE) // PAGE_SIZE


def test_flags_are_the_branchs_bits():
    assert [int(a) for a in Access] == [0, 1, 2, 3]
    assert perm_of(Access.READ_ONLY) == Perm.READ and perm_of(Access.READ_WRITE) == Perm.RW
    assert perm_of(Access.NO_ACCESS) == Perm.NONE


def test_a_ninth_share_is_refused_with_rtems_too_many():
    rec = StackRecord(BASE, 4 * PAGE_SIZE)
    for k in range(MAX_SHARES):
        rec.add_share(Share(Access.READ_ONLY, BASE + 0x10000 + k * PAGE_SIZE, PAGE_SIZE))
    with pytest.raises(TooManyShares, match="RTEMS_TOO_MANY, a stack holds at most 8") as e:
        rec.add_share(Share(Access.READ_WRITE, BASE + 0x20000, PAGE_SIZE))
    assert e.value.status == RTEMS_TOO_MANY and len(rec.shares) == MAX_SHARES


def test_records_round_trip_through_words():
    words = array.array("Q", [0] * StackRecords.words_needed(2))
    a = StackRecord(
        BASE, PAGE_SIZE, Access.READ_WRITE, [Share(Access.READ_ONLY, BASE + 8192, 4096)]
    )
    b = StackRecord(BASE + PAGE_SIZE, 2 * PAGE_SIZE)
    StackRecords(words).store(0, a)
    StackRecords(words).store(1, b)
    assert StackRecords(words).load(0) == a and StackRecords(words).load(1) == b


def test_allocator_hands_out_page_aligned_stacks_and_refuses_bad_sizes():
    alloc = StackAllocator(BASE, 4 * PAGE_SIZE)
    assert [alloc.alloc(PAGE_SIZE) for _ in range(2)] == [BASE, BASE + PAGE_SIZE]
    assert alloc.alloc(2 * PAGE_SIZE) == BASE + 2 * PAGE_SIZE
    with pytest.raises(OutOfStackArea, match="holds 4 such stacks"):
        alloc.alloc(PAGE_SIZE)
    for size in (0, 100, PAGE_SIZE + 1, 2 << 20):
        with pytest.raises(StackSizeError, match=f"stack size {size} bytes: expected a multiple"):
            StackAllocator().alloc(size)


def test_tlb_keeps_an_entry_until_it_is_invalidated():
    t = tlb()
    t.fill(3, Perm.RW)
    assert t.lookup(3) == Perm.RW and t.lookup(19) is None  # 19 shares 3's slot, not its tag
    assert t.invalidate(0, 3) == 0 and t.lookup(3) == Perm.RW
    assert t.invalidate(2, 40) == 1 and t.lookup(3) is None  # a long range scans the entries


def records(shares: bool = True) -> tuple[StackRecord, StackRecord, StackRecord]:
    a = StackRecord(BASE, 4 * PAGE_SIZE)
    b = StackRecord(BASE + 4 * PAGE_SIZE, 4 * PAGE_SIZE)
    c = StackRecord(BASE + 8 * PAGE_SIZE, 4 * PAGE_SIZE)
    if shares:
        a.add_share(Share(Access.READ_ONLY, c.address, PAGE_SIZE))
        b.add_share(Share(Access.READ_WRITE, c.address + PAGE_SIZE, PAGE_SIZE))
    return a, b, c


def test_switch_maps_the_heir_and_its_shares_then_unmaps_the_outgoing():
    pt = table()
    a, b, c = records()
    sw = ProtectedSwitch(pt)
    sw.switch(None, a)
    assert pt.check(a.address, a.size, Perm.RW) is None
    assert pt.check(c.address, PAGE_SIZE, Perm.READ) is None
    assert pt.check(c.address, PAGE_SIZE, Perm.WRITE) == Fault(c.address, Perm.WRITE, True)
    sw.switch(a, b)
    assert pt.check(a.address, PAGE_SIZE, Perm.READ) == Fault(a.address, Perm.READ, False)
    assert pt.check(c.address, PAGE_SIZE, Perm.READ).present is False  # a's share is gone
    assert pt.check(c.address + PAGE_SIZE, PAGE_SIZE, Perm.RW) is None  # b's, read-write
    assert pt.check(b.address, b.size, Perm.RW) is None


def test_both_stacks_are_mapped_at_the_switch_point_only():
    pt = table()
    a, b, _ = records(shares=False)
    seen = []

    def point(name):
        seen.append((name, pt.check(a.address, 1, Perm.RW), pt.check(b.address, 1, Perm.RW)))

    sw = ProtectedSwitch(pt, point=point)
    sw.switch(None, a)
    sw.switch(a, b)
    assert seen[-1] == ("switch.unmap", None, None)  # heir mapped, outgoing not yet unmapped
    assert pt.check(a.address, 1, Perm.READ) is not None


def test_a_share_of_the_heirs_own_stack_is_not_unmapped_under_it():
    pt = table()
    a, b, _ = records(shares=False)
    a.add_share(Share(Access.READ_ONLY, b.address, PAGE_SIZE))  # a shares b's first page
    sw = ProtectedSwitch(pt)
    sw.switch(None, a)
    sw.switch(a, b)
    assert pt.check(b.address, b.size, Perm.RW) is None


def test_without_a_shootdown_another_cpus_tlb_keeps_a_stale_entry():
    pt, tlb0, tlb1 = table(), tlb(), tlb()
    a, b, _ = records(shares=False)
    cpu0, cpu1 = ProtectedSwitch(pt, tlb0), CpuMmu(pt, tlb1)
    cpu0.switch(None, a)
    assert cpu1.access(a.address, 8, Perm.WRITE) is Translation.TABLE  # a runs: filled
    assert cpu1.access(a.address, 8, Perm.WRITE) is Translation.TLB_HIT
    cpu0.switch(a, b)  # a is dormant; only cpu0's TLB was told
    assert cpu1.access(a.address, 8, Perm.WRITE) is Translation.TLB_STALE
    assert CpuMmu(pt, tlb()).access(a.address, 8, Perm.WRITE) is Translation.FAULT


def test_a_shootdown_invalidates_every_other_cpus_tlb():
    pt, tlb0, tlb1 = table(), tlb(), tlb()
    a, b, _ = records(shares=False)
    cpu0, cpu1 = ProtectedSwitch(pt, tlb0, remote=[tlb1]), CpuMmu(pt, tlb1)
    cpu0.switch(None, a)
    assert cpu1.access(a.address, 8, Perm.WRITE) is Translation.TABLE
    cpu0.switch(a, b)
    assert cpu1.access(a.address, 8, Perm.WRITE) is Translation.FAULT
    assert cpu0.shootdowns == 1 and cpu0.pages_written == 12
