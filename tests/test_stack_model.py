"""The pager, the thread-side MMU and stack growth, in-process against a Core with page tables."""

from __future__ import annotations

import pytest

from kernel_model.genode import layout
from kernel_model.genode.core import Core, CoreConnection, Op
from kernel_model.genode.errors import Reason, StackAllocFailed
from kernel_model.genode.mmu import Mmu, UnresolvableFault
from kernel_model.genode.pager import FaultReport
from kernel_model.genode.stack import MAX_MAPPINGS, FlatArea, ManagedArea, push_frames
from kernel_model.genode.status import Status
from kernel_model.page_table import PageTable, Perm
from testbed.ipc.native import Bitmap, PageBytes, address_of

PAGE, BASE = layout.PAGE_SIZE, layout.AREA_BASE
WINDOW = 3 * layout.SLOT_SIZE  # stack memory for slots 0..2


class Machine:
    """One PD: core with a pager, and a thread's MMU over memory for slots 0..2."""

    def __init__(self, flat: bool = False):
        self.bits = bytearray(8 * Bitmap.words(layout.AREA_PAGES))
        self.pt = bytearray(layout.AREA_PAGES)
        self.mem = bytearray(WINDOW)
        self.reports: list[FaultReport] = []
        self.core = Core(
            1,
            lambda pd: Bitmap(address_of(self.bits), layout.AREA_PAGES),
            1 << 30,
            page_table=lambda pd: self.table(),
            report=self.reports.append,
        )
        self.conn = CoreConnection(lambda op, a0, a1, a2: self.core.serve(op, 0, a0, a1, a2))
        if flat:
            FlatArea.attach_whole_area(self.conn)
        self.mmu = Mmu(
            self.table(), memoryview(self.mem), BASE, lambda a, acc: self.conn.fault(a, acc, 7)
        )

    def table(self) -> PageTable:
        return PageTable(PageBytes(address_of(self.pt), layout.AREA_PAGES), BASE, layout.AREA_PAGES)


def test_pager_maps_a_fault_inside_an_attachment_one_page_at_a_time():
    m = Machine()
    stack = ManagedArea(m.conn).create(2, 16 << 10)
    assert m.table().check(stack.base, stack.size, Perm.WRITE) is not None  # attach maps nothing
    m.mmu.write(stack.base + 10, b"x" * (2 * PAGE))  # spans three pages: three faults
    assert m.mmu.faults == 3 and m.core.pagers[0].resolved == 3 and not m.reports
    assert m.mem[stack.base - BASE + 10] == ord("x")


def test_fault_outside_any_attachment_is_reported_and_raises():
    m = Machine()
    stack = ManagedArea(m.conn).create(2, 16 << 10)
    with pytest.raises(UnresolvableFault) as e:
        m.mmu.write(stack.base - 16, b"y" * 32)  # straddles the stack bottom
    assert e.value.fault.address == stack.base - PAGE
    assert m.reports == [FaultReport(0, 7, stack.base - PAGE, Perm.WRITE, "stack_area")]
    assert m.mem[stack.base - BASE - 16 :][:32] == bytes(32)  # nothing was written


def test_detach_unmaps_so_the_old_stack_faults_unresolvably():
    m = Machine()
    area = ManagedArea(m.conn)
    stack = area.create(1, 8 << 10)
    m.mmu.write(stack.top - 64, b"z" * 64)
    area.destroy(stack)
    with pytest.raises(UnresolvableFault):
        m.mmu.read(stack.top - 64, 64)


def test_flat_area_backs_every_fault_so_an_overflow_is_silent():
    m = Machine(flat=True)
    stack = FlatArea(m.conn).create(2, 16 << 10)
    depth = (layout.SLOT_SIZE + 8 * PAGE) // PAGE  # past the slot into slot 1
    assert push_frames(m.mmu, stack.top, depth, PAGE, tag=1) == 0
    assert not m.reports and m.core.pagers[0].unresolvable == 0


def test_fault_requests_need_a_pager_and_a_valid_access():
    m = Machine()
    assert m.core.serve(Op.FAULT, 0, BASE, 0, 0) == (Status.INVALID_OP, 0)
    plain = Core(1, lambda pd: Bitmap(address_of(bytearray(8192)), layout.AREA_PAGES), 1 << 20)
    assert plain.serve(Op.FAULT, 0, BASE, int(Perm.READ), 0) == (Status.INVALID_OP, 0)
    line = Core.describe(Op.FAULT, 0x402FA000, int(Perm.WRITE), 1)
    assert line == {
        "op": "fault", "address": 0x402FA000, "access": "write", "thread": 1, "slot": 2,
        "region_map": "stack_area",
    }  # fmt: skip


def test_growth_allows_four_mappings_then_stack_too_large():
    m = Machine()
    area = ManagedArea(m.conn)
    stack = area.create(1, 16 << 10)
    for _ in range(MAX_MAPPINGS - 1):
        area.grow(stack, stack.size + 10_000)  # rounded up to pages
    assert len(stack.mappings) == MAX_MAPPINGS and (stack.top - stack.base) == stack.size
    assert all(size % PAGE == 0 for _, _, size in stack.mappings)
    with pytest.raises(StackAllocFailed) as e:
        area.grow(stack, stack.size + PAGE)
    assert e.value.reason is Reason.STACK_TOO_LARGE and "mapping 5" in str(e.value)
    push_frames(m.mmu, stack.top, stack.size // PAGE, PAGE, tag=3)  # the grown stack is usable
    area.grow(stack, stack.size)  # no growth needed: no mapping
    area.destroy(stack)
    assert m.core.region_maps[0].attachments == {}


def test_growth_below_the_slot_is_stack_too_large_unless_unlimited():
    m = Machine()
    stack = ManagedArea(m.conn).create(2, 16 << 10)
    with pytest.raises(StackAllocFailed) as e:
        ManagedArea(m.conn).grow(stack, layout.SLOT_SIZE)
    assert e.value.reason is Reason.STACK_TOO_LARGE and "below the slot base" in str(e.value)
    below = ManagedArea(m.conn).create(1, 16 << 10)  # the neighbour, at the top of slot 1
    with pytest.raises(StackAllocFailed) as e:
        ManagedArea(m.conn, limits=False).grow(stack, layout.SLOT_SIZE)
    assert e.value.reason is Reason.REGION_CONFLICT
    assert len(stack.mappings) == 1 and len(below.mappings) == 1
