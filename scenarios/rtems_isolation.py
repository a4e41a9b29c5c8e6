"""RTEMS protected thread stacks (the never-merged ARMv7 MMU branch), and where SMP breaks them.

Actors are CPUs ("cpu0", "cpu1", ...): each runs its tasks round-robin, one slice each, and
switches with the branch's protection path (kernel_model.rtems_switch). In a slice a task
uses its own stack, reads and writes through its shares, and probes every other task's
stack. The CPUs write the page tables themselves: RTEMS is one address space and its
switch path reprograms the MMU on the switching CPU, with no kernel to call. Core only
answers a null request at each CPU's start (the testbed's core must exist; nothing of
RTEMS needs it).
"""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from kernel_model.cpu_mmu import CpuMmu, Translation
from kernel_model.layout import PAGE_SIZE
from kernel_model.page_table import PageTable, Perm
from kernel_model.rtems_stack import (
    MAX_SHARES,
    Access,
    Share,
    StackRecord,
    StackRecords,
    TooManyShares,
)
from kernel_model.rtems_stack_allocator import (
    MAX_STACK_SIZE,
    STACK_AREA_BASE,
    StackAllocator,
    StackSizeError,
    stacks_that_fit,
)
from kernel_model.rtems_switch import POINT_BOTH_MAPPED, ProtectedSwitch
from kernel_model.status import Status
from kernel_model.tlb import ENTRIES, Tlb
from testbed.native import PageBytes
from testbed.scenario import ConfigError, Grade, Outcome, Scenario
from testbed.sizes import parse_size

ACC, INT, FORB = Grade.ACCEPTABLE, Grade.INTERESTING, Grade.FORBIDDEN
MAX_CPUS, MAX_TASKS = 8, 64
POINT_SLICE = "task.slice"  # a task is about to run its slice (its switch is complete)

CPUS = {  # variant -> accepted --cpus range, default
    "unprotected": (1, MAX_CPUS, 2),
    "strict": (1, 1, 1),
    "smp-global": (2, MAX_CPUS, 2),
    "smp-tlb": (2, MAX_CPUS, 2),
    "smp-percpu": (2, MAX_CPUS, 2),
}
PROTECTED = ("strict", "smp-global", "smp-tlb", "smp-percpu")
WITH_TLB = ("smp-tlb", "smp-percpu")

# Word offsets inside a page of a stack: where each kind of access lands.
SHARE_READ, SHARE_WRITE, PROBE_READ, PROBE_WRITE = 0, 1, 8, 9
FRAME_WORDS = 8  # the frame a task writes at the top of its own stack


def _grades(unprotected, strict, smp_global, smp_tlb, smp_percpu) -> dict[str, Grade]:
    return dict(zip(CPUS, (unprotected, strict, smp_global, smp_tlb, smp_percpu), strict=True))


class RtemsIsolation(Scenario):
    name = "rtems-isolation"
    description = (
        "RTEMS protected thread stacks and stack shares; where the guarantee breaks on SMP"
    )
    variants = {
        "unprotected": "no attributes: every stack stays mapped read-write (the baseline)",
        "strict": "the branch's switch path on 1 CPU: dormant stacks are unmapped",
        "smp-global": "the same global table on 2+ CPUs: running stacks of other CPUs are mapped",
        "smp-tlb": "global table and a TLB a CPU; an unmap invalidates only the local TLB",
        "smp-percpu": "a table a CPU and a TLB shootdown on every unmap",
    }
    outcomes = (
        Outcome(
            "dormant_access_faulted",
            "an access to a stack not mapped for the prober faulted",
            _grades(FORB, ACC, ACC, ACC, ACC),
            failure=False,
        ),
        Outcome(
            "dormant_access_succeeded",
            "an access to another task's stack (not shared with it) went through",
            _grades(INT, FORB, FORB, FORB, FORB),
        ),
        Outcome(
            "shared_access_ok",
            "a read through a share, or a write through a READ_WRITE share, went through",
            _grades(ACC, ACC, ACC, ACC, ACC),
            failure=False,
        ),
        Outcome(
            "shared_write_denied",
            "a write through a READ_ONLY share faulted (a permission fault)",
            _grades(FORB, ACC, ACC, ACC, ACC),
            failure=False,
        ),
        Outcome(
            "running_foreign_access",
            "the global table let a task reach the stack another CPU had mapped for its task",
            _grades(FORB, FORB, INT, INT, FORB),
        ),
        Outcome(
            "stale_tlb_access",
            "a stale TLB entry let a task reach a stack its table no longer maps",
            _grades(FORB, FORB, FORB, INT, FORB),
        ),
    )
    points = (POINT_SLICE, POINT_BOTH_MAPPED)
    rate_name = "accesses_per_s"
    examples = (
        "testbed stress rtems-isolation --variant strict --tasks 3 --shares 2 --rounds 5",
        "testbed stress rtems-isolation --variant smp-tlb --cpus 2 --tasks 4 --duration 5 --require stale_tlb_access",
        "testbed stress rtems-isolation --variant smp-percpu --cpus 4 --tasks 16 --duration 5",
    )

    # -- configuration ---------------------------------------------------------------------
    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        ranges = ", ".join(f"{v} {lo}..{hi}" for v, (lo, hi, _) in CPUS.items())
        p.add_argument("--cpus", type=int, help=f"CPU processes ({ranges}; default 2, strict 1)")
        p.add_argument(
            "--tasks",
            type=int,
            help=f"tasks in all, spread round-robin over the CPUs (--cpus..{MAX_TASKS}, and "
            "as many as the 8 MiB stack area holds; default 2 a CPU)",
        )
        p.add_argument(
            "--stack-size",
            default="16K",
            help=f"stack size, whole {PAGE_SIZE >> 10}K pages ({PAGE_SIZE >> 10}K.."
            f"{MAX_STACK_SIZE >> 10}K; default 16K)",
        )
        p.add_argument(
            "--shares",
            type=int,
            default=2,
            help=f"stack shares a task holds, alternately READ_ONLY and READ_WRITE, of stacks of "
            f"its CPU's other tasks (0..{MAX_SHARES}; default 2)",
        )

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        lo, hi, default = CPUS.get(args.variant, (1, MAX_CPUS, 2))
        cpus = default if args.cpus is None else args.cpus
        if not lo <= cpus <= hi:
            raise ConfigError(f"--cpus {cpus}: expected {lo}..{hi} for --variant {args.variant}")
        size = parse_size(args.stack_size, "--stack-size", 1, MAX_STACK_SIZE)
        if size % PAGE_SIZE:
            raise ConfigError(
                f"--stack-size {args.stack_size}: {size} bytes is not page-aligned, expected a "
                f"multiple of {PAGE_SIZE} in {PAGE_SIZE}..{MAX_STACK_SIZE} bytes"
            )
        fit = min(MAX_TASKS, stacks_that_fit(size))
        tasks = 2 * cpus if args.tasks is None else args.tasks
        if not cpus <= tasks <= fit:
            raise ConfigError(
                f"--tasks {tasks}: expected {cpus}..{fit} ({cpus} CPUs, "
                f"{fit} stacks of {size} bytes fit)"
            )
        if not 0 <= args.shares <= MAX_SHARES:
            raise ConfigError(
                f"--shares {args.shares}: expected 0..{MAX_SHARES} "
                f"(a ninth share is refused with RTEMS_TOO_MANY)"
            )
        room = (tasks // cpus - 1) * (size // PAGE_SIZE)
        if args.shares > room:
            raise ConfigError(
                f"--shares {args.shares}: expected 0..{room}: a share is one page of a stack "
                f"of another task on the same CPU ({tasks // cpus} tasks a CPU, "
                f"{size // PAGE_SIZE} pages a stack)"
            )
        config = {"cpus": cpus, "tasks": tasks, "stack_size": size, "shares": args.shares}
        build_stacks(config)  # a dry run: the model refuses what the checks above missed
        return config

    # -- the run ---------------------------------------------------------------------------
    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(f"cpu{c}", {"cpu": c}) for c in range(config["cpus"])]

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        # Regions cannot depend on the variant (the runner asks before it adds it): a table
        # and a TLB a CPU are always there; the global variants use table 0 only.
        out = {
            "rtems.records": StackRecords.words_needed(config["tasks"]),
            "rtems.stacks": config["tasks"] * config["stack_size"] // 8,
        }
        for c in range(config["cpus"]):
            out[f"rtems.pt{c}"] = (table_pages(config) + 7) // 8
            out[f"rtems.tlb{c}"] = ENTRIES
        return out

    def init_shared(self, seg, config: dict[str, Any]) -> None:
        records = StackRecords(seg.words("rtems.records"))
        for t, rec in enumerate(build_stacks(config)):
            records.store(t, rec)
        if config["variant"] == "unprotected":  # no attributes: everything read-write
            table = page_table(seg, config, 0)
            table.map(STACK_AREA_BASE, table.npages * PAGE_SIZE, Perm.RW)

    def core(self, seg, config: dict[str, Any]) -> NullCore:
        return NullCore()

    def run_actor(self, env, actor) -> None:
        env.core_call(0)(0, 0, 0, 0)  # core is up and answering
        cpu = Cpu(env.seg, env.spec.config, actor.params["cpu"], env.point)
        for _ in env.rounds():
            for task in cpu.tasks:
                if env.stopping():
                    return
                counts = cpu.run_slice(task)
                for name, n in counts.items():
                    env.record(name, n)


class NullCore:
    """Core of this scenario: answers every request OK; the CPUs program the MMU."""

    def serve(self, op: int, pd: int, a0: int, a1: int, a2: int) -> tuple[Status, int]:
        return Status.OK, 0

    @staticmethod
    def describe(op: int, a0: int, a1: int, a2: int) -> dict[str, int | str]:
        return {"op": "null"}


def table_pages(config: dict[str, Any]) -> int:
    return config["tasks"] * config["stack_size"] // PAGE_SIZE


def page_table(seg, config: dict[str, Any], index: int) -> PageTable:
    n = table_pages(config)
    return PageTable(PageBytes(seg.addr(f"rtems.pt{index}"), n), STACK_AREA_BASE, n)


def cpu_of(task: int, config: dict[str, Any]) -> int:
    return task % config["cpus"]


def build_stacks(config: dict[str, Any]) -> list[StackRecord]:
    """Every task's stack from the page-aligned allocator, and its shares: share k is page
    k // (others) of the stack of the k-th next task on the same CPU, READ_ONLY for even k."""
    alloc, size, tasks = StackAllocator(), config["stack_size"], config["tasks"]
    try:
        recs = [StackRecord(alloc.alloc(size), size) for _ in range(tasks)]
        for t, rec in enumerate(recs):
            after = [(t + d) % tasks for d in range(1, tasks)]
            others = [u for u in after if cpu_of(u, config) == cpu_of(t, config)]
            for k in range(config["shares"]):
                target = recs[others[k % len(others)]]
                address = target.address + (k // len(others)) * PAGE_SIZE
                flag = Access.READ_ONLY if k % 2 == 0 else Access.READ_WRITE
                rec.add_share(Share(flag, address, PAGE_SIZE))
    except (StackSizeError, TooManyShares) as e:
        raise ConfigError(str(e)) from None
    return recs


class Cpu:
    """One CPU: its tasks, its view of the MMU, and the switch path of its variant."""

    def __init__(self, seg, config: dict[str, Any], cpu: int, point=None):
        variant = config["variant"]
        self.variant, self.point = variant, point
        records = StackRecords(seg.words("rtems.records"))
        self.recs = [records.load(t) for t in range(config["tasks"])]
        self.tasks = [t for t in range(config["tasks"]) if cpu_of(t, config) == cpu]
        self.table = page_table(seg, config, cpu if variant == "smp-percpu" else 0)
        tlbs = (
            [Tlb(seg.words(f"rtems.tlb{c}")) for c in range(config["cpus"])]
            if variant in WITH_TLB
            else []
        )
        tlb = tlbs[cpu] if tlbs else None
        self.mmu = CpuMmu(self.table, tlb)
        remote = [t for c, t in enumerate(tlbs) if c != cpu] if variant == "smp-percpu" else []
        self.switcher = (
            ProtectedSwitch(self.table, tlb, remote, point) if variant in PROTECTED else None
        )
        self.mem = seg.words("rtems.stacks")
        self.running: StackRecord | None = None
        # what each task probes: the top page of every other task's stack, unless shared
        self.probes = {
            t: [
                self.recs[u].address + self.recs[u].size - PAGE_SIZE
                for u in range(config["tasks"])
                if u != t
                and self.recs[t].share_at(self.recs[u].address + self.recs[u].size - 1) is None
            ]
            for t in self.tasks
        }
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


def _granted_outcome(variant: str) -> str:
    """Only another CPU maps a foreign stack in a global table; anywhere else a granted
    foreign access is a dormant stack left reachable."""
    if variant in ("smp-global", "smp-tlb"):
        return "running_foreign_access"
    return "dormant_access_succeeded"


def _frame(task: int, n: int):
    import array

    return array.array("Q", [task] * n)


SCENARIO = RtemsIsolation()
