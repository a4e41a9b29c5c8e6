"""RTEMS protected thread stacks (the never-merged ARMv7 MMU branch), and where SMP breaks them.

Actors are CPUs ("cpu0", "cpu1", ...): each runs its tasks round-robin, one slice each, and
switches with the branch's protection path (kernel_model.rtems_switch). In a slice a task
uses its own stack, reads and writes through its shares, and probes every other task's
stack. The CPUs write the page tables themselves: RTEMS is one address space and its
switch path reprograms the MMU on the switching CPU, with no kernel to call: the
scenario has no core. The CPU model is kernel_model.rtems.cpu.
"""

from __future__ import annotations

import argparse
from typing import Any

from kernel_model.page_table import PAGE_SIZE, PageTable, Perm
from kernel_model.rtems.cpu import POINT_SLICE, WITH_TLB, Cpu, NothingToProbe, cpu_of, probe_pages
from kernel_model.rtems.stack import (
    MAX_SHARES,
    Access,
    Share,
    StackRecord,
    StackRecords,
    TooManyShares,
)
from kernel_model.rtems.stack_allocator import (
    MAX_STACK_SIZE,
    STACK_AREA_BASE,
    StackAllocator,
    StackSizeError,
    stacks_that_fit,
)
from kernel_model.rtems.switch import POINT_BOTH_MAPPED
from kernel_model.rtems.tlb import ENTRIES, Tlb
from testbed.ipc.native import PageBytes
from testbed.scenario import (
    Actor,
    ActorEnv,
    ConfigError,
    Grade,
    Outcome,
    Scenario,
    Shared,
    parse_size,
)

ACC, INT, FORB = Grade.ACCEPTABLE, Grade.INTERESTING, Grade.FORBIDDEN
MAX_CPUS, MAX_TASKS = 8, 64

DEFAULT_SHARES = 2  # --shares not typed: two, or as many as the stacks leave room for

CPUS = {  # variant -> accepted --cpus range, default
    "unprotected": (1, MAX_CPUS, 2),
    "strict": (1, 1, 1),
    "smp-global": (2, MAX_CPUS, 2),
    "smp-tlb": (2, MAX_CPUS, 2),
    "smp-percpu": (2, MAX_CPUS, 2),
}


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
    # `testbed demo`: isolation on one CPU, and where SMP breaks it
    showcase = tuple(
        (v, "none", ("--cpus", "1") if v == "strict" else ())
        for v in ("unprotected", "strict", "smp-global", "smp-tlb", "smp-percpu")
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
            help=f"stack shares a task holds, alternately READ_ONLY and READ_WRITE, of stacks of "
            f"its CPU's other tasks (0..{MAX_SHARES}; default 2, or as many as the tasks' "
            "stacks leave room for)",
        )
        p.add_argument(
            "--iterate",
            action="store_true",
            help="run in iterations: each CPU's round of switches through its tasks is one "
            "iteration from fresh tables, TLBs and stacks, the CPUs released together",
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
        if args.shares is None:  # not typed: the default fits the tasks and stacks chosen
            return self._with_default_shares(cpus, tasks, size, args.iterate)
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
        if tasks < 2:
            raise ConfigError(
                f"--tasks {tasks}: expected 2..{fit}: a task needs another task's stack to probe"
            )
        config = {"cpus": cpus, "tasks": tasks, "stack_size": size, "shares": args.shares}
        if args.iterate:  # absent: traces from before the option
            config["iterate"] = True
        recs = build_stacks(config)  # a dry run: the model refuses what the checks above missed
        try:
            probe_pages(recs)
        except NothingToProbe as e:
            raise ConfigError(
                f"--shares {args.shares} with --tasks {tasks} and --stack-size {args.stack_size}: "
                f"{e}; use fewer shares or larger stacks"
            ) from None
        return config

    def _with_default_shares(
        self, cpus: int, tasks: int, size: int, iterate: bool
    ) -> dict[str, Any]:
        """The config with the default shares: 2, or fewer when the stacks leave no room for
        two (`--tasks 2 --stack-size 8K`: a stack of two pages, one of them probed, takes
        one share), never an error the user did not type."""
        if tasks < 2:
            raise ConfigError(
                f"--tasks {tasks}: expected 2..: a task needs another task's stack to probe"
            )
        room = (tasks // cpus - 1) * (size // PAGE_SIZE)
        for shares in range(min(DEFAULT_SHARES, room), -1, -1):
            config = {"cpus": cpus, "tasks": tasks, "stack_size": size, "shares": shares}
            if iterate:
                config["iterate"] = True
            try:
                probe_pages(build_stacks(config))
            except NothingToProbe:
                continue
            return config
        raise ConfigError(  # unreachable: with no share every other stack is probed
            f"--tasks {tasks} and --stack-size {size}: no share count leaves a page to probe"
        )

    def iterates(self, config: dict[str, Any]) -> bool:
        return bool(config.get("iterate", False))

    # -- the run ---------------------------------------------------------------------------
    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(f"cpu{c}", {"cpu": c}) for c in range(config["cpus"])]

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        # a table and a TLB a CPU; the global variants use table 0 only
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

    def run_actor(self, env: ActorEnv, actor: Actor) -> None:
        config, cpu = env.config, actor.params["cpu"]
        records = StackRecords(env.words("rtems.records"))
        tlbs = [Tlb(env.words(f"rtems.tlb{c}")) for c in range(config["cpus"])]
        cpu = Cpu(
            config["variant"],
            cpu,
            [records.load(t) for t in range(config["tasks"])],
            [t for t in range(config["tasks"]) if cpu_of(t, config["cpus"]) == cpu],
            page_table(env, config, cpu if config["variant"] == "smp-percpu" else 0),
            tlbs if config["variant"] in WITH_TLB else [],
            env.words("rtems.stacks"),
            env.point,
        )
        for _ in env.rounds():
            for task in cpu.tasks:
                if env.stopping():
                    return
                counts = cpu.run_slice(task)
                for name, n in counts.items():
                    env.record(name, n=n)


def table_pages(config: dict[str, Any]) -> int:
    return config["tasks"] * config["stack_size"] // PAGE_SIZE


def page_table(shared: Shared, config: dict[str, Any], index: int) -> PageTable:
    n = table_pages(config)
    return PageTable(PageBytes(shared.address(f"rtems.pt{index}"), n), STACK_AREA_BASE, n)


def build_stacks(config: dict[str, Any]) -> list[StackRecord]:
    """Every task's stack from the page-aligned allocator, and its shares: share k is page
    k // (others) of the stack of the k-th next task on the same CPU, READ_ONLY for even k."""
    alloc, size, tasks = StackAllocator(), config["stack_size"], config["tasks"]
    try:
        recs = [StackRecord(alloc.alloc(size), size) for _ in range(tasks)]
        for t, rec in enumerate(recs):
            after = [(t + d) % tasks for d in range(1, tasks)]
            others = [u for u in after if cpu_of(u, config["cpus"]) == cpu_of(t, config["cpus"])]
            for k in range(config["shares"]):
                target = recs[others[k % len(others)]]
                address = target.address + (k // len(others)) * PAGE_SIZE
                flag = Access.READ_ONLY if k % 2 == 0 else Access.READ_WRITE
                rec.add_share(Share(flag, address, PAGE_SIZE))
    except (StackSizeError, TooManyShares) as e:
        raise ConfigError(str(e)) from None
    return recs


SCENARIO = RtemsIsolation()
