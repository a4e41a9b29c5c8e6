"""The page table and its batched C check, against a Python model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kernel_model.genode.layout import PAGE_SIZE
from kernel_model.page_table import Fault, PageTable, Perm
from testbed.ipc.native import PageBytes, address_of

BASE, NPAGES = 0x4000_0000, 200


def table():
    buf = bytearray(NPAGES)
    return PageTable(PageBytes(address_of(buf), NPAGES), BASE, NPAGES), buf


spans = st.tuples(st.integers(0, NPAGES - 1), st.integers(1, NPAGES)).map(
    lambda t: (t[0], min(t[1], NPAGES - t[0]))
)


@settings(max_examples=200, deadline=None)
@given(
    maps=st.lists(st.tuples(spans, st.sampled_from(list(Perm))), max_size=12),
    probe=spans,
    access=st.sampled_from([Perm.READ, Perm.WRITE, Perm.RW]),
)
def test_check_finds_the_first_page_lacking_the_access(maps, probe, access):
    pt, _ = table()
    model = [0] * NPAGES
    for (first, n), perm in maps:
        pt.map(BASE + first * PAGE_SIZE, n * PAGE_SIZE, perm)
        model[first : first + n] = [int(perm)] * n
    first, n = probe
    fault = pt.check(BASE + first * PAGE_SIZE + 17, n * PAGE_SIZE - 17, access)
    bad = next((i for i in range(first, first + n) if model[i] & access != access), None)
    if bad is None:
        assert fault is None
    else:
        assert fault == Fault(BASE + bad * PAGE_SIZE, access, bool(model[bad] & Perm.READ))


def test_unmap_turns_accesses_into_translation_faults():
    pt, _ = table()
    pt.map(BASE, 4 * PAGE_SIZE, Perm.RW)
    assert pt.check(BASE + 100, 3 * PAGE_SIZE, Perm.WRITE) is None
    pt.unmap(BASE + PAGE_SIZE, PAGE_SIZE)
    assert pt.check(BASE, 4 * PAGE_SIZE, Perm.READ) == Fault(BASE + PAGE_SIZE, Perm.READ, False)
    pt.map(BASE + PAGE_SIZE, PAGE_SIZE, Perm.READ)
    assert pt.check(BASE, 4 * PAGE_SIZE, Perm.WRITE) == Fault(BASE + PAGE_SIZE, Perm.WRITE, True)


def test_ranges_outside_the_table_are_refused():
    pt, _ = table()
    for address, size in ((BASE - 1, 1), (BASE, NPAGES * PAGE_SIZE + 1), (BASE, 0)):
        try:
            pt.check(address, size, Perm.READ)
        except ValueError as e:
            assert "outside" in str(e)
        else:
            raise AssertionError((address, size))
