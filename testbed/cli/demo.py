"""`testbed demo`: the main demonstration, every variant of every showcase scenario for a
few seconds each, one summary table (and one result document with every run's)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from testbed.harness import loader, output_paths
from testbed.harness.options import EXIT_CODES, formatter, run_options, stress_parser
from testbed.harness.run import run as run_stress
from testbed.scenario import ConfigError


def showcase() -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(scenario, variant, pin, scenario options) of every run the built-in scenarios
    declare for the demo."""
    return [
        (name, variant, pin, tuple(argv))
        for name in loader.builtin_names()
        for variant, pin, argv in loader.load(name).showcase
    ]


def demo(seconds: float, json_path: str | None, console: Console) -> int:
    docs = []
    runs = showcase()
    for name, variant, pin, argv in runs:
        console.print(
            f"[dim]{name} --variant {variant} --pin {pin} {' '.join(argv)}: {seconds:g} s ...[/dim]"
        )
        scenario = loader.load(name)
        args = stress_parser(scenario, name).parse_args(
            [*argv, "--variant", variant, "--pin", pin, "--duration", str(seconds),
             "--seed", str(len(docs)), "--no-record"]
        )  # fmt: skip
        docs.append(run_stress(run_options(scenario, name, args)))
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
    for (name, variant, pin, _), d in zip(runs, docs, strict=True):
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
    for name in dict.fromkeys(r[0] for r in runs):  # what each scenario's variants are
        sc = loader.load(name)
        shown = dict.fromkeys(r[1] for r in runs if r[0] == name)
        console.print(f"[bold]{name}[/bold]: {sc.description}")
        for v in shown:
            console.print(f"  {v}: {sc.variants[v]}")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(docs, f, indent=2)
    return max(d["exit_code"] for d in docs)


def register(sub: argparse._SubParsersAction) -> None:
    dm = sub.add_parser(
        "demo",
        help="every variant of the showcase scenarios for a few seconds, one summary table",
        formatter_class=formatter,
        epilog="examples:\n  testbed demo\n  testbed demo --seconds 5 --json demo.json\n\n"
        + EXIT_CODES.replace("no FORBIDDEN", "no run saw a FORBIDDEN"),
    )
    dm.add_argument(
        "--seconds", type=float, default=2.0, help="seconds a run (0 < s <= 600; default 2)"
    )
    dm.add_argument("--json", metavar="PATH", help="write every run's result document, as a list")


def run(args: argparse.Namespace) -> int:
    if not 0 < args.seconds <= 600:
        raise ConfigError(f"--seconds {args.seconds:g}: expected 0 < seconds <= 600")
    output_paths.check_writable(args.json, "--json")
    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a log or a pipe: don't fold the table to 80 columns
    return demo(args.seconds, args.json, console)
