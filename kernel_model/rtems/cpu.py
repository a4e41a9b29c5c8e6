"""One CPU of the RTEMS model: its tasks run round-robin, one slice each, switched by the
branch's protection path; in a slice a task uses its own stack, its shares, and probes every
other task's stack. What each access meant is counted under the scenario's outcome names.
"""

from __future__ import annotations

import array
from collections import Counter
from collections.abc import Callable, MutableSequence

from kernel_model.page_table import PAGE_SIZE, PageTable, Perm
from kernel_model.rtems.cpu_mmu import CpuMmu, Translation
from kernel_model.rtems.stack import Access, StackRecord
from kernel_model.rtems.stack_allocator import STACK_AREA_BASE
from kernel_model.rtems.switch import ProtectedSwitch
from kernel_model.rtems.tlb import Tlb

POINT_SLICE = "task.slice"  # a task is about to run its slice (its switch is complete)
PROTECTED = ("strict", "smp-global", "smp-tlb", "smp-percpu")
WITH_TLB = ("smp-tlb", "smp-percpu")
# Word offsets inside a page of a stack: where each kind of access lands.
SHARE_READ, SHARE_WRITE, PROBE_READ, PROBE_WRITE = 0, 1, 8, 9
FRAME_WORDS = 8  # the frame a task writes at the top of its own stack


def cpu_of(task: int, cpus: int) -> int:
    """Static placement: task t runs on CPU t mod cpus."""
    return task % cpus


class Cpu:
    """One CPU: its tasks, its view of the MMU, and the switch path of its variant."""

    def __init__(
        self,
        variant: str,
        cpu: int,
        recs: list[StackRecord],
        tasks: list[int],
        table: PageTable,
        tlbs: list[Tlb],
        mem: MutableSequence[int],
        point: Callable[[str], None] | None = None,
    ):
        """`recs`: every task's stack record; `tasks`: this CPU's; `table`: the page table it
        switches; `tlbs`: every CPU's TLB (none without TLBs); `mem`: the stack area's words."""
        self.variant, self.point = variant, point
        self.recs, self.tasks, self.table = recs, tasks, table
        tlb = tlbs[cpu] if tlbs else None
        self.mmu = CpuMmu(self.table, tlb)
        remote = [t for c, t in enumerate(tlbs) if c != cpu] if variant == "smp-percpu" else []
        self.switcher = (
            ProtectedSwitch(self.table, tlb, remote, point) if variant in PROTECTED else None
        )
        self.mem = mem
        self.running: StackRecord | None = None
        # what each task probes: a page of every other task's stack that no share covers
        pages = probe_pages(recs)
        self.probes = {t: [pages[u] for u in range(len(recs)) if u != t] for t in self.tasks}
        self.granted = {  # what a foreign access granted by the MMU means in this variant
            Translation.TABLE: _granted_outcome(variant),
            Translation.TLB_HIT: _granted_outcome(variant),
            Translation.TLB_STALE: "stale_tlb_access",
        }

    def _word(self, address: int, offset: int) -> int:
        return (address - STACK_AREA_BASE) // 8 + offset

    def dispatch(self, task: int) -> None:
        heir = self.recs[task]
        if self.running is not heir:
            if self.switcher is not None:
                self.switcher.switch(self.running, heir)
            self.running = heir

    def run_slice(self, task: int) -> Counter:
        self.dispatch(task)
        if self.point is not None:
            self.point(POINT_SLICE)
        counts: Counter = Counter()
        rec, mem, mmu = self.recs[task], self.mem, self.mmu
        # its own stack: all of it read-write (one check), then a frame at its top
        fault = self.table.check(rec.address, rec.size, Perm.RW)
        if fault is not None:
            raise AssertionError(f"task {task} faulted on its own stack at {fault.address:#x}")
        top = self._word(rec.address + rec.size, 0)
        mem[top - FRAME_WORDS : top] = _frame(task, FRAME_WORDS)
        # its shares: a read, and a write (which must fault through a READ_ONLY share)
        for s in rec.shares:
            if mmu.access(s.address, 8, Perm.READ) is Translation.FAULT:
                raise AssertionError(
                    f"task {task}: read through its share at {s.address:#x} faulted"
                )
            _ = mem[self._word(s.address, SHARE_READ)]
            counts["shared_access_ok"] += 1
            how = mmu.access(s.address + 8, 8, Perm.WRITE)
            if how is Translation.FAULT:
                counts["shared_write_denied" if s.access == Access.READ_ONLY else "bug"] += 1
            elif s.access == Access.READ_ONLY:  # a read-only share was written
                counts[self.granted[how]] += 1
                mem[self._word(s.address, SHARE_WRITE)] = task
            else:
                counts["shared_access_ok"] += 1
                mem[self._word(s.address, SHARE_WRITE)] = task
        # its probes: read and write the stack of every other task
        for address in self.probes[task]:
            for need, offset in ((Perm.READ, PROBE_READ), (Perm.WRITE, PROBE_WRITE)):
                how = mmu.access(address + 8 * offset, 8, need)
                if how is Translation.FAULT:
                    counts["dormant_access_faulted"] += 1
                    continue
                counts[self.granted[how]] += 1
                if need is Perm.READ:
                    _ = mem[self._word(address, offset)]
                else:
                    mem[self._word(address, offset)] = task
        if counts.pop("bug", 0):
            raise AssertionError(f"task {task}: a write through a READ_WRITE share faulted")
        return counts


class NothingToProbe(ValueError):
    """A stack every page of which some share covers: isolation could not be checked on it."""


def probe_pages(recs: list[StackRecord]) -> list[int]:
    """For each task, the page of its stack the other tasks probe: its highest page that no
    share of any task covers, so a probe always tests isolation, never a share's flags."""
    out = []
    for u, rec in enumerate(recs):
        free = [
            page
            for page in range(rec.address + rec.size - PAGE_SIZE, rec.address - 1, -PAGE_SIZE)
            if all(r.share_at(page) is None for r in recs)
        ]
        if not free:
            raise NothingToProbe(
                f"shares cover every page of task {u}'s stack ({rec.size // PAGE_SIZE} page(s)), "
                "so no other task could probe it"
            )
        out.append(free[0])
    return out


def _granted_outcome(variant: str) -> str:
    """Only another CPU maps a foreign stack in a global table; anywhere else a granted
    foreign access is a dormant stack left reachable."""
    if variant in ("smp-global", "smp-tlb"):
        return "running_foreign_access"
    return "dormant_access_succeeded"


def _frame(task: int, n: int) -> array.array:
    return array.array("Q", [task] * n)
