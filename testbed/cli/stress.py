"""`testbed stress SCENARIO --variant V ...`: a run under real preemption, its live progress,
its summary, and its result document (the options are the table of testbed/harness/options.py)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from rich.console import Console
from rich.table import Table

from testbed.cli.common import SCENARIO_FORMS
from testbed.cli.progress import for_terminal
from testbed.harness import loader, output_paths
from testbed.harness.options import (
    EXIT_CODES,
    STRESS,
    common_help,
    formatter,
    run_options,
    stress_parser,
)
from testbed.harness.run import run as run_stress

EXAMPLES = """examples:
  testbed stress genode-race --variant racy --duration 2
  testbed stress genode-race --variant quickfix --pin same --max-failures 1 --require region_conflict
  testbed stress ./my_allocator.py --variant broken --duration 5      (SCENARIO of that file)
  testbed stress ./scenarios.py:FIFO --variant fixed --rounds 100     (another attribute)
  testbed stress mypackage.races:SCENARIO --variant v1                 (an importable module)
  testbed stress genode-race --help                                    (the scenario's options)
"""


def register(sub: argparse._SubParsersAction) -> None:
    st = sub.add_parser(
        "stress",
        help="run a scenario under real preemption",
        description="Run SCENARIO under real preemption; `testbed stress SCENARIO --help` lists "
        "its options.",
        formatter_class=formatter,
        epilog=EXAMPLES + "\n" + common_help(STRESS) + "\n" + EXIT_CODES,
        usage="testbed stress SCENARIO --variant V [options]",
    )
    st.add_argument("scenario", help=SCENARIO_FORMS)
    st.add_argument(
        "options", nargs=argparse.REMAINDER, help="--variant V and the run's and scenario's options"
    )


def run(args: argparse.Namespace) -> int:
    ref = loader.canonical(args.scenario)
    sc = loader.load(ref)
    ns = stress_parser(sc, args.scenario).parse_args(args.options)
    opts = run_options(sc, ref, ns)
    json_path = ns.json
    output_paths.check_writable(json_path, "--json")
    output_paths.check_writable(ns.junit, "--junit", suffix=".xml")
    json_to_stdout = json_path == "-"
    console = Console(stderr=json_to_stdout)
    with for_terminal(f"{sc.name} / {opts.variant}") as progress:
        opts.progress = progress
        doc = run_stress(opts)
    summary(doc, console)
    if json_path:
        output_paths.write_json(json_path, doc)
    if ns.junit:
        from testbed.report.junit import write_junit

        write_junit([doc], ns.junit)
        console.print(f"JUnit XML: {ns.junit}")
    return doc["exit_code"]


def verified_label(doc: dict[str, Any], path: str) -> str:
    """How far a replay command was checked before it is offered."""
    v = doc.get("verified")
    if v is None or v["trace"] != path:
        return "not verified: --verify checks the first trace"
    return f"verified: reproduced {v['reproduced']} of {v['replays']}"


def summary(doc: dict[str, Any], console: Console) -> None:
    table = Table(title=f"{doc['scenario']} / {doc['variant']}: {doc['verdict'].upper()}")
    for col in ("outcome", "count", "grade"):
        table.add_column(col)
    for name, count in doc["outcomes"].items():
        table.add_row(name, f"{count:,}", doc["grades"][name])
    console.print(table)
    ff = doc["first_failure_s"]
    rate_key = next(k for k in doc if k.endswith("_per_s"))
    console.print(
        f"attempts {doc['attempts']:,} in {doc['elapsed_s']:.2f} s ({doc[rate_key]:,.0f}/s); "
        f"first failure {'none' if ff is None else f'{ff * 1000:.2f} ms'}; context switches "
        f"{doc['ctx_switches']['voluntary']:,} voluntary, {doc['ctx_switches']['involuntary']:,} "
        f"involuntary; seed {doc['seed']}"
    )
    for name, point in doc.get("detected_at", {}).items():
        console.print(f"  {name}: first detected at schedule point {point}")
    faults = doc.get("faults")
    if faults:
        console.print(
            f"page faults: {faults['resolved']:,} resolved, {faults['unresolvable']:,} unresolvable"
        )
        for r in faults["reports"][:3]:
            console.print(
                f"  {r.get('thread_name', r.get('thread'))}: {r['access']} fault at {r['address']:#x}, "
                f"no attachment in {r['region_map']} (pd {r['pd']})"
            )
    traces = doc.get("traces") or [
        {"file": f, "replayable": True} for f in doc.get("trace_files", [])
    ]
    flags = loader.replay_flags(doc.get("source", ""))
    for t in traces:  # whole lines, never wrapped: they are copied
        path = t["file"]
        q = shlex.quote(path)
        console.print(f"trace: {path}", soft_wrap=True, markup=False, highlight=False)
        if not t["replayable"]:
            console.print(
                f"  not replayable: {t['why']} (testbed show {q} draws what it holds)",
                soft_wrap=True,
                markup=False,
                highlight=False,
            )
            continue
        console.print(
            f"  replay: testbed replay {q}{flags}   ({verified_label(doc, path)}; also: testbed "
            f"show {q}, testbed minimize {q}{flags}, testbed explain {q}{flags})",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    for reason in doc["reasons"]:
        console.print(f"  - {reason}")
