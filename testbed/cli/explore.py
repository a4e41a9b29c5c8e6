"""`testbed explore SCENARIO --variant V ...`: its options (the scenario's own parsed in a
second phase, as for stress), live progress, and the summary."""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from rich.console import Console
from rich.live import Live

from testbed.explorer.options import EXAMPLES, EXIT_CODES, explore_options, parser
from testbed.explorer.run import ExploreOptions, Progress, explore
from testbed.harness import loader, output_paths
from testbed.harness.options import EXPLORE, common_help, formatter


def register(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser(
        "explore",
        help="run one iteration under every schedule within a preemption bound (a bounded proof)",
        description="Run one iteration of SCENARIO under every schedule of its points with at "
        "most K preemptions (dfs; --preemptions none: every schedule, with DPOR), or a sample "
        "(random, pct, pos, rff, auto), on real processes reused across schedules. `testbed explore SCENARIO "
        "--help` lists the scenario's options.",
        formatter_class=formatter,
        epilog=EXAMPLES + "\n" + common_help(EXPLORE) + "\n" + EXIT_CODES,
        usage="testbed explore SCENARIO --variant V [options]",
    )
    ex.add_argument("scenario", help="a built-in name, PATH.py[:NAME] or package.module:NAME")
    ex.add_argument("options", nargs=argparse.REMAINDER, help="--variant V and the options")


def options(args: argparse.Namespace) -> tuple[ExploreOptions, argparse.Namespace]:
    ref = loader.canonical(args.scenario)
    sc = loader.load(ref)
    ns = parser(sc, args.scenario).parse_args(args.options)
    opts = explore_options(sc, ref, ns)
    output_paths.check_writable(ns.json, "--json")
    return opts, ns


def _line(p: Progress) -> str:
    rate = p.schedules / p.elapsed_s if p.elapsed_s > 0 else 0.0
    return (
        f"{p.elapsed_s:7.1f}s  schedules {p.schedules:,} (budget {p.budget:,})  pruned "
        f"{p.pruned:,}  failures {p.failures}  {rate:,.0f}/s"
    )


class _Plain:
    """A plain line a second on stderr."""

    def __init__(self) -> None:
        self.next = 0.0

    def __call__(self, p: Progress) -> None:
        if time.monotonic() >= self.next:
            self.next = time.monotonic() + 1.0
            print(_line(p), file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    opts, ns = options(args)
    console = Console(stderr=ns.json == "-")
    if sys.stderr.isatty():
        live = Live(console=Console(stderr=True), refresh_per_second=8, transient=True)
        opts.progress = lambda p: live.update(_line(p))
        with live:
            doc = explore(opts)
    else:
        opts.progress = _Plain()
        doc = explore(opts)
    summary(doc, console)
    if ns.json:
        output_paths.write_json(ns.json, doc)
    return doc["exit_code"]


def summary(doc: dict, console: Console) -> None:
    bound = doc["preemption_bound"]
    console.print(
        f"{doc['scenario']} / {doc['variant']}: {doc['verdict'].upper()}  {doc['strategy']}"
        + (f", at most {bound} preemptions" if bound is not None else "")
        + (", no preemption bound" if bound is None and doc["strategy"] == "dfs" else "")
        + f", {doc['points']} points, reduction {doc['reduction']}"
    )
    console.print(
        f"schedules {doc['schedules']:,} ({'complete' if doc['complete'] else 'not complete'}), "
        f"pruned {doc['pruned']:,}, {doc['steps']:,} steps, {doc['elapsed_s']:.2f} s, "
        f"{doc['schedules_per_s']:,.0f} schedules/s, {doc['steps_per_s']:,.0f} steps/s; "
        f"seed {doc['seed']}"
    )
    if doc["complete"]:
        console.print(f"complete: {doc['covers']}", soft_wrap=True)
    seen = ", ".join(f"{k} {v:,}" for k, v in doc["outcomes"].items() if v)
    console.print(f"schedules showing each outcome: {seen or '-'}")
    for f in doc["failures"]:
        console.print(  # whole lines, never wrapped: the path and the command are copied
            f"{f['outcome']} ({f['grade']}) in schedule {f['schedule']}, {f['preemptions']} "
            f"preemptions, {f['steps']} steps: {f['trace_file']}",
            soft_wrap=True, markup=False, highlight=False,
        )  # fmt: skip
        for line in f.get("cycle", []):
            console.print(f"  {line}")
        if f.get("replayable") is False:
            console.print(f"  {f['why']}", soft_wrap=True, markup=False, highlight=False)
            continue
        v = doc.get("verified")
        checked = (
            f"verified: reproduced {v['reproduced']} of {v['replays']}"
            if v is not None and v["trace"] == f["trace_file"]
            else "not verified: --verify checks the first failure's trace"
        )
        flags = loader.replay_flags(doc.get("source", ""))
        console.print(f"  replay: testbed replay {shlex.quote(f['trace_file'])}{flags}   ({checked})",
                      soft_wrap=True, markup=False, highlight=False)  # fmt: skip
    for reason in doc["reasons"]:
        if not doc["failures"]:
            console.print(f"  - {reason}")
