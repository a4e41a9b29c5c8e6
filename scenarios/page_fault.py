"""Calibration: page faults resolved by core's pager, to measure the fault round trip beside
core-roundtrip's null request. Each round an actor attaches `--calls` pages, touches each
once through the MMU (a miss, a FAULT request, core maps the page, the check again), detaches."""

from __future__ import annotations

import argparse
from typing import Any

from kernel_model.genode import layout
from kernel_model.genode.core import Core
from kernel_model.genode.mmu import UnresolvableFault
from kernel_model.genode.stack import ManagedArea
from kernel_model.page_table import Perm
from testbed.scenario import Grade, Outcome, Scenario, in_range

from ._mmu import (
    MmuCore,
    fault_extra,
    mmu_core_regions,
    mmu_owned,
    mmu_read_only,
    mmu_regions,
    thread_mmu,
)

MAX_CLIENTS, MAX_CALLS = 8, layout.PAGES_PER_SLOT - 1


class PageFault(Scenario):
    name = "page-fault"
    description = "calibration: page faults resolved by core's pager (the fault round trip)"
    variants = {"lazy": "the pager maps one page a fault"}
    outcomes = (
        Outcome("resolved", "core mapped the page", {"lazy": Grade.ACCEPTABLE}, failure=False),
        Outcome("unresolvable", "core found no attachment", {"lazy": Grade.FORBIDDEN}),
    )
    rate_name = "faults_per_s"
    examples = ("testbed stress page-fault --variant lazy --rounds 20",)

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--clients", type=int, default=1, help=f"PDs, one thread each (1..{MAX_CLIENTS})"
        )
        p.add_argument("--calls", type=int, default=200, help=f"faults a round (1..{MAX_CALLS})")

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        return {
            "clients": in_range("--clients", args.clients, 1, MAX_CLIENTS),
            "calls": in_range("--calls", args.calls, 1, MAX_CALLS),
        }

    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(f"pd{k}.thread0", {"pd": k}) for k in range(config["clients"])]

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        return mmu_regions(config["clients"], 0)

    def pd_owned(self, config: dict[str, Any]) -> dict[str, int]:
        return mmu_owned(config["clients"])

    def read_only(self, config: dict[str, Any]) -> list[str]:
        return mmu_read_only(config["clients"])

    def core_regions(self, config: dict[str, Any]) -> dict[str, int]:
        return mmu_core_regions(config["clients"])

    def core(self, seg, config: dict[str, Any]) -> Core:
        return MmuCore(seg, config["clients"], flat=False)

    def result_extra(self, seg, config: dict[str, Any]) -> dict[str, Any]:
        return fault_extra(seg, lambda pd, thread: f"pd{pd}.thread{thread}")

    def run_actor(self, env, actor) -> None:
        calls, page = env.config["calls"], layout.PAGE_SIZE
        mmu, core = thread_mmu(env, actor.params["pd"], 0)
        area = ManagedArea(core)
        for _ in env.rounds():
            stack = area.create(0, calls * page - layout.CONTEXT_RECORD_SIZE)  # `calls` pages
            try:
                for k in range(calls):
                    mmu.access(stack.base + k * page, 8, Perm.WRITE)
                env.record("resolved", n=calls)
            except UnresolvableFault:
                env.record("unresolvable")
            finally:
                area.destroy(stack)


SCENARIO = PageFault()
