"""Calibration: the bare request round trip to core, no model work (like jcstress's own
sanity tests). Each actor sends `--calls` null requests a round and counts the replies."""

from __future__ import annotations

import argparse
from typing import Any

from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from kernel_model.genode.fastcore import FastCore
from kernel_model.genode.status import Status
from testbed.ipc.native import Bitmap
from testbed.scenario import ConfigError, Grade, Outcome, Scenario, in_range

MAX_CLIENTS, MAX_CALLS = 64, 10**7
CORES = ("c", "python")  # as genode-race's --core: the C core served in place, or the reference


class CoreRoundtrip(Scenario):
    name = "core-roundtrip"
    description = "calibration: null requests to core, to measure the harness's round trip"
    variants = {"null": "core answers at once; nothing is modelled"}
    outcomes = (
        Outcome("ok", "core answered", {"null": Grade.ACCEPTABLE}, failure=False),
        Outcome("error", "core answered with an error code", {"null": Grade.FORBIDDEN}),
    )
    rate_name = "round_trips_per_s"
    examples = (
        "testbed stress core-roundtrip --variant null --rounds 20 --pin same",
        "testbed stress core-roundtrip --variant null --rounds 20 --pin spread --reply-spin-us 0",
    )

    def add_arguments(self, p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--clients", type=int, default=1, help=f"client processes (1..{MAX_CLIENTS})"
        )
        p.add_argument("--calls", type=int, default=1000, help=f"requests a round (1..{MAX_CALLS})")
        p.add_argument(
            "--core",
            default="c",
            help="core: c (served in place in C, core's loop without Python) or python "
            "(core.Core through the Python handler); default c, as genode-race's",
        )

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        if args.core not in CORES:
            raise ConfigError(f"--core {args.core!r}: expected one of {', '.join(CORES)}")
        return {
            "clients": in_range("--clients", args.clients, 1, MAX_CLIENTS),
            "calls": in_range("--calls", args.calls, 1, MAX_CALLS),
            "core": args.core,
        }

    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [(f"client{k}", {}) for k in range(config["clients"])]

    def core_regions(self, config: dict[str, Any]) -> dict[str, int]:
        return {"pages": Bitmap.words(layout.AREA_PAGES)}  # core's own

    def core(self, seg, config: dict[str, Any]) -> Core | FastCore:
        if config.get("core", "c") == "c":
            return FastCore(1, [seg.address("pages")], ram_quota=0)
        return Core(1, lambda pd: Bitmap(seg.address("pages"), layout.AREA_PAGES), ram_quota=0)

    def run_actor(self, env, actor) -> None:
        call, calls, null = env.core_call(0), env.config["calls"], int(Op.NULL)
        for _ in env.rounds():
            errors = sum(call(null, 0, 0, 0)[0] != Status.OK for _ in range(calls))
            env.record("ok", n=calls - errors)  # counted a round at a time: the bare round trip
            if errors:
                env.record("error", n=errors)


SCENARIO = CoreRoundtrip()
