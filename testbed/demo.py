"""`testbed demo`: the main demonstration, every variant of every showcase scenario for a
few seconds each, one summary table (and one result document with every run's)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from . import registry
from .run import RunOptions, run

# (scenario, variant, pin, scenario options): the report's race on a one-CPU board and on
# this machine; the overflow question; RTEMS's isolation on one CPU and where SMP breaks it
SHOWCASE: list[tuple[str, str, str, list[str]]] = [
    *(("genode-race", v, pin, []) for v in ("racy", "quickfix", "fixed", "bitalloc") for pin in ("same", "none")),
    ("stack-overflow", "flat", "none", []),
    ("stack-overflow", "managed", "none", []),
    *(("rtems-isolation", v, "none", ["--cpus", "1"] if v == "strict" else [])
      for v in ("unprotected", "strict", "smp-global", "smp-tlb", "smp-percpu")),
]  # fmt: skip


def _config(name: str, variant: str, argv: list[str]) -> dict[str, Any]:
    """The scenario's config from its own options (defaults plus `argv`), as the CLI makes it."""
    scenario = registry.get(name)
    parser = argparse.ArgumentParser()
    scenario.add_arguments(parser)
    args = parser.parse_args(argv)
    args.variant = variant
    return scenario.configure(args)


def demo(seconds: float, json_path: str | None, console: Console) -> int:
    docs = []
    for name, variant, pin, argv in SHOWCASE:
        console.print(
            f"[dim]{name} --variant {variant} --pin {pin} {' '.join(argv)}: {seconds:g} s ...[/dim]"
        )
        config = _config(name, variant, argv)
        docs.append(
            run(
                RunOptions(
                    registry.get(name), variant, config, seed=len(docs), duration_s=seconds, pin=pin
                )
            )
        )
    table = Table(title="testbed demo: real processes, real preemption, no injected delay")
    for col in (
        "scenario",
        "variant",
        "pin",
        "attempts",
        "per s",
        "INTERESTING or FORBIDDEN outcomes",
        "first failure",
        "verdict",
    ):
        table.add_column(col, justify="right" if col in ("attempts", "per s") else "left")
    for (name, variant, pin, _), d in zip(SHOWCASE, docs, strict=True):
        bad = {k: v for k, v in d["outcomes"].items() if v and d["grades"][k] != "ACCEPTABLE"}
        ff = d["first_failure_s"]
        rate = next(v for k, v in d.items() if k.endswith("_per_s"))
        table.add_row(
            name, variant, pin, f"{d['attempts']:,}", f"{rate:,.0f}",
            ", ".join(f"{k} {v:,}" for k, v in bad.items()) or "-",
            "-" if ff is None else f"{ff * 1000:.1f} ms",
            d["verdict"].upper(),
        )  # fmt: skip
    console.print(table)
    console.print(
        "genode-race: region_conflict is INTERESTING in racy and quickfix (the race of the 2010 "
        "report and the gap its quick fix leaves), FORBIDDEN in fixed and bitalloc. "
        "stack-overflow: flat lets the overflow run silently over the neighbour; managed "
        "faults at the first page below the stack. rtems-isolation: strict holds on one CPU; "
        "smp-global and smp-tlb break on two; smp-percpu holds."
    )
    if json_path:
        with open(json_path, "w") as f:
            json.dump(docs, f, indent=2)
    return max(d["exit_code"] for d in docs)
