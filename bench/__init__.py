"""The benches: each module of NAMES declares `BENCH` (see bench/harness.py for the convention)
and runs through `testbed bench NAME` or `python -m testbed.bench.NAME`."""

from __future__ import annotations

import importlib

NAMES = (
    "pingpong",
    "core_roundtrip",
    "mmu",
    "points_cost",
    "quickfix_gap",
    "perturb_ttff",
    "replay_rate",
    "rtems_switch",
    "access_cost",
    "kill_rate",
    "cycle_efficiency",
    "explore",
    "iteration",
    "native_cost",
    "sctbench",
    "trace_load",
)


def load(name: str):
    """The Bench of bench/NAME.py; ValueError names the accepted ones."""
    if name not in NAMES:
        raise ValueError(f"bench {name!r}: expected one of {', '.join(NAMES)}")
    return importlib.import_module(f"testbed.bench.{name}").BENCH
