"""`testbed explore SCENARIO --variant V ...`: its options (the scenario's own parsed in a
second phase, as for stress), live progress, and the summary."""

from __future__ import annotations

import argparse
import random
import sys
import time

from rich.console import Console
from rich.live import Live

from testbed.cli import outputs
from testbed.explore.explorer import (
    MAX_PREEMPTIONS,
    POINT_LEVELS,
    ExploreOptions,
    Progress,
    explore,
)
from testbed.explore.search import STRATEGIES
from testbed.harness import loader
from testbed.harness.options import Parser, formatter
from testbed.scenario import ConfigError, Scenario

EXAMPLES = """examples:
  testbed explore genode-race --variant fixed --children 1 --preemptions 2
  testbed explore genode-race --variant quickfix --children 1 --require region_conflict
  testbed explore ./my_scenario.py --variant broken --max-schedules 500 --json -
  testbed explore genode-race --variant racy --children 1 --strategy pct --seed 7 --require region_conflict
"""
EXIT_CODES = (
    "exit codes: 0 complete, no FORBIDDEN outcome; 1 a FORBIDDEN outcome, a --require outcome "
    "or a deadlock found (its trace replays with testbed replay); 2 bad usage; 3 aborted; "
    "4 --max-schedules ran out first, nothing found"
)


def add_command(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser(
        "explore",
        help="run one iteration under every schedule within a preemption bound (a bounded proof)",
        description="Run one iteration of SCENARIO under every schedule of its points with at "
        "most K preemptions (dfs), or a sample (random, pct), on real processes reused across "
        "schedules. `testbed explore SCENARIO --help` lists the scenario's options.",
        formatter_class=formatter,
        epilog=EXAMPLES + "\n" + EXIT_CODES,
        usage="testbed explore SCENARIO --variant V [options]",
    )
    ex.add_argument("scenario", help="a built-in name, PATH.py[:NAME] or package.module:NAME")
    ex.add_argument("options", nargs=argparse.REMAINDER, help="--variant V and the options")


def parser(scenario: Scenario, ref: str) -> Parser:
    p = Parser(
        prog=f"testbed explore {ref}",
        description=f"{scenario.name}: {scenario.description}\n\nvariants:\n"
        + "".join(f"  {v}: {d}\n" for v, d in scenario.variants.items()),
        formatter_class=formatter,
        epilog=EXAMPLES + "\n" + EXIT_CODES,
    )
    own = p.add_argument_group(f"{scenario.name} options")
    scenario.add_arguments(own)  # type: ignore[arg-type]
    g = p.add_argument_group("exploration")
    g.add_argument("--variant", required=True, help="the variant to explore")
    g.add_argument(
        "--preemptions",
        type=int,
        default=2,
        help=f"dfs: at most K preemptions a schedule; pct: K priority change points "
        f"(0..{MAX_PREEMPTIONS}; default 2)",
    )
    g.add_argument(
        "--max-schedules",
        type=int,
        default=100_000,
        help="schedules to run at most (default 100000)",
    )
    g.add_argument("--points", default="named", help=f"{'|'.join(POINT_LEVELS)} (default named)")
    g.add_argument("--strategy", default="dfs", help=f"{'|'.join(STRATEGIES)} (default dfs)")
    g.add_argument(
        "--seed",
        type=int,
        help="the scenario's seed and the sampler's (0..2**32-1; default random)",
    )
    g.add_argument(
        "--no-reduce", action="store_true", help="dfs without sleep sets: every schedule is run"
    )
    g.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="OUTCOME",
        help="hunt for OUTCOME: a schedule that shows it fails the exploration as a FORBIDDEN "
        "one does (repeatable)",
    )
    g.add_argument(
        "--max-failures",
        type=int,
        default=1,
        help="stop at N failing schedules (0: never; default 1)",
    )
    g.add_argument(
        "--max-steps", type=int, default=10_000, help="steps a schedule may take (default 10000)"
    )
    g.add_argument("--json", metavar="PATH|-", help="write the result document (- for stdout)")
    g.add_argument("--trace-dir", default="traces", help="where failing schedules' traces go")
    g.add_argument("--pin", default="none", help="CPU placement: same|spread|none (default none)")
    g.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds an actor may take a step"
    )
    return p


def options(args: argparse.Namespace) -> tuple[ExploreOptions, argparse.Namespace]:
    ref = loader.canonical(args.scenario)
    sc = loader.load(ref)
    ns = parser(sc, args.scenario).parse_args(args.options)
    if ns.variant not in sc.variants:
        raise ConfigError(f"--variant {ns.variant!r}: expected one of {', '.join(sc.variants)}")
    outcomes = [o.name for o in sc.outcomes]
    for name in ns.require:
        if name not in outcomes:
            raise ConfigError(f"--require {name!r}: expected one of {', '.join(outcomes)}")
    opts = ExploreOptions(
        scenario=sc,
        variant=ns.variant,
        config=sc.configure(ns),
        ref=ref,
        strategy=ns.strategy,
        preemptions=ns.preemptions,
        max_schedules=ns.max_schedules,
        points=ns.points,
        seed=random.randrange(2**32) if ns.seed is None else ns.seed,
        reduce=not ns.no_reduce,
        require=list(ns.require),
        max_failures=ns.max_failures,
        max_steps=ns.max_steps,
        trace_dir=ns.trace_dir,
        pin=ns.pin,
        lock_timeout_s=ns.lock_timeout,
    )
    opts.check()
    outputs.check_writable(ns.json, "--json")
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
        outputs.write_json(ns.json, doc)
    return doc["exit_code"]


def summary(doc: dict, console: Console) -> None:
    bound = doc["preemption_bound"]
    console.print(
        f"{doc['scenario']} / {doc['variant']}: {doc['verdict'].upper()}  {doc['strategy']}"
        + (f", at most {bound} preemptions" if bound is not None else "")
        + f", {doc['points']} points, reduction {doc['reduction']}"
    )
    console.print(
        f"schedules {doc['schedules']:,} ({'complete' if doc['complete'] else 'not complete'}), "
        f"pruned {doc['pruned']:,}, {doc['steps']:,} steps, {doc['elapsed_s']:.2f} s, "
        f"{doc['schedules_per_s']:,.0f} schedules/s; seed {doc['seed']}"
    )
    seen = ", ".join(f"{k} {v:,}" for k, v in doc["outcomes"].items() if v)
    console.print(f"schedules showing each outcome: {seen or '-'}")
    for f in doc["failures"]:
        console.print(
            f"{f['outcome']} ({f['grade']}) in schedule {f['schedule']}, {f['preemptions']} "
            f"preemptions, {f['steps']} steps: {f['trace_file']}"
        )
        for line in f.get("cycle", []):
            console.print(f"  {line}")
        console.print(f"  replay: testbed replay {f['trace_file']}")
    for reason in doc["reasons"]:
        if not doc["failures"]:
            console.print(f"  - {reason}")
