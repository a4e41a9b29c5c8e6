"""`testbed demo`: the main demonstration, every variant of every showcase scenario for a
few seconds each, one summary table (and one result document with every run's)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from . import registry
from .run import RunOptions, run

# (scenario, variant, pin, options): the report's race on a one-CPU board and on this machine
SHOWCASE: list[tuple[str, str, str, dict[str, Any]]] = [
    ("genode-race", v, pin, {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024})
    for v in ("racy", "quickfix", "fixed", "bitalloc")
    for pin in ("same", "none")
]


def demo(seconds: float, json_path: str | None, console: Console) -> int:
    docs = []
    for name, variant, pin, config in SHOWCASE:
        console.print(f"[dim]{name} --variant {variant} --pin {pin}: {seconds:g} s ...[/dim]")
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
        "non-ok outcomes",
        "first failure",
        "verdict",
    ):
        table.add_column(col, justify="right" if col in ("attempts", "per s") else "left")
    for (name, variant, pin, _), d in zip(SHOWCASE, docs, strict=True):
        bad = {k: v for k, v in d["outcomes"].items() if v and k != "ok"}
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
        "racy and quickfix: region_conflict is INTERESTING (the race of the 2010 report and "
        "the gap its quick fix leaves); fixed and bitalloc: it would be FORBIDDEN."
    )
    if json_path:
        with open(json_path, "w") as f:
            json.dump(docs, f, indent=2)
    return max(d["exit_code"] for d in docs)
