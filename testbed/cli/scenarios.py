"""`testbed scenarios [SCENARIO ...]`: each scenario's variants, outcomes and grades."""

from __future__ import annotations

import argparse
import json

from rich.console import Console
from rich.table import Table

from testbed.cli.common import SCENARIO_FORMS, SIMPLE_EXIT
from testbed.harness import loader
from testbed.harness.options import formatter


def register(sub: argparse._SubParsersAction) -> None:
    sp = sub.add_parser(
        "scenarios",
        help="list scenarios, variants, outcomes and grades",
        formatter_class=formatter,
        epilog="examples:\n  testbed scenarios\n  testbed scenarios ./my_scenario.py --json\n\n"
        + SIMPLE_EXIT,
    )
    sp.add_argument(
        "scenario",
        nargs="*",
        help=f"scenarios to describe (default: the installed ones): {SCENARIO_FORMS}",
    )
    sp.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    refs = args.scenario or loader.builtin_names()
    docs = []
    for ref in refs:
        doc = loader.load(loader.canonical(ref)).describe()
        if args.scenario:
            doc["source"] = loader.canonical(ref)
        docs.append(doc)
    if args.json:
        print(json.dumps(docs, indent=2))
        return 0
    console = Console()
    for d in docs:
        table = Table(title=f"{d['name']}: {d['description']}")
        table.add_column("outcome")
        for v in d["variants"]:
            table.add_column(v)
        for o in d["outcomes"]:
            table.add_row(o["name"], *(o["grades"][v] for v in d["variants"]))
        console.print(table)
        for v, desc in d["variants"].items():
            console.print(f"  {v}: {desc}")
    return 0
