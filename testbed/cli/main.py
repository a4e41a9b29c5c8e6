"""The `testbed` command: list scenarios, run a stress test, clean up after dead runs."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from testbed.cli import bench as bench_cli
from testbed.cli import campaign as campaign_cli
from testbed.cli import explore as explore_cli
from testbed.cli import outputs
from testbed.cli import report as report_cli
from testbed.cli.progress import for_terminal
from testbed.harness import loader
from testbed.harness.options import (
    EXIT_CODES,
    Parser,
    UsageError,
    formatter,
    run_options,
    stress_parser,
)
from testbed.harness.result import EXIT_ABORTED, EXIT_USAGE
from testbed.harness.run import run
from testbed.ipc import names
from testbed.ipc.native import NativeLibraryMissing
from testbed.scenario import ConfigError

STRESS_EXAMPLES = """examples:
  testbed stress genode-race --variant racy --duration 2
  testbed stress genode-race --variant quickfix --pin same --max-failures 1 --require region_conflict
  testbed stress ./my_allocator.py --variant broken --duration 5      (SCENARIO of that file)
  testbed stress ./scenarios.py:FIFO --variant fixed --rounds 100     (another attribute)
  testbed stress mypackage.races:SCENARIO --variant v1                 (an importable module)
  testbed stress genode-race --help                                    (the scenario's options)
"""
REPLAY_EXIT = "exit codes: 0 reproduced (every time), 1 not reproduced, 2 bad usage or an unusable trace, 3 aborted"
MINIMIZE_EXIT = "exit codes: 0 minimized, 1 the trace does not reproduce, 2 bad usage or an unusable trace, 3 aborted"
SIMPLE_EXIT = "exit codes: 0 done, 2 bad usage"
SCENARIO_FORMS = (
    "a built-in or installed name (testbed scenarios), PATH.py (its SCENARIO), PATH.py:NAME, "
    "or package.module:NAME"
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="testbed",
        description="Real-concurrency testbed for kernel stack allocators: real processes, "
        "a real core process, shared memory and named semaphores.",
        formatter_class=formatter,
        epilog="examples:\n  testbed scenarios\n  testbed stress genode-race --variant racy\n"
        "  testbed stress ./my_scenario.py --variant broken\n"
        "  testbed replay traces/T.json\n  testbed show traces/T.json --png T.png\n"
        "  testbed demo\n  testbed clean\n\nexit codes: 0 pass, 1 FORBIDDEN outcome or --require unmet, "
        "2 bad usage, 3 aborted",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

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

    st = sub.add_parser(
        "stress",
        help="run a scenario under real preemption",
        description="Run SCENARIO under real preemption; `testbed stress SCENARIO --help` lists "
        "its options.",
        formatter_class=formatter,
        epilog=STRESS_EXAMPLES + "\n" + EXIT_CODES,
        usage="testbed stress SCENARIO --variant V [options]",
    )
    st.add_argument("scenario", help=SCENARIO_FORMS)
    st.add_argument(
        "options", nargs=argparse.REMAINDER, help="--variant V and the run's and scenario's options"
    )

    explore_cli.add_command(sub)

    rp = sub.add_parser(
        "replay",
        help="run a trace's order again; exit 0 if its outcome happens again, 1 if not",
        formatter_class=formatter,
        epilog="examples:\n  testbed replay traces/genode-race.quickfix.7.ab12cd.0.json\n"
        "  testbed replay T.json --repeat 100 --json -\n\n" + REPLAY_EXIT,
    )
    rp.add_argument("trace")
    rp.add_argument(
        "--repeat", type=int, default=1, help="replays (1..10000); exit 0 only if all reproduce"
    )
    rp.add_argument("--json", metavar="PATH|-", help="write the result document(s)")
    rp.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds an actor may wait its turn"
    )

    mn = sub.add_parser(
        "minimize",
        help="shrink a trace while its outcome still reproduces",
        formatter_class=formatter,
        epilog="examples:\n  testbed minimize T.json\n  testbed minimize T.json -o small.json "
        "--max-replays 100\n\n" + MINIMIZE_EXIT,
    )
    mn.add_argument("trace")
    mn.add_argument(
        "-o", "--output", help="where the smaller trace goes (default: TRACE with .min.json)"
    )
    mn.add_argument(
        "--max-replays", type=int, default=300, help="replays to spend (1..100000; default 300)"
    )

    sh = sub.add_parser(
        "show",
        help="a trace's interleaving: text in the terminal, or a timeline picture",
        formatter_class=formatter,
        epilog="examples:\n  testbed show T.json\n  testbed show T.json --png timeline.png\n"
        "  testbed show T.json --svg timeline.svg --last 0\n"
        "  testbed show T.json --perfetto T.perfetto.json   # the whole trace, to zoom through\n\n"
        + SIMPLE_EXIT,
    )
    sh.add_argument("trace")
    out = sh.add_mutually_exclusive_group()
    out.add_argument("--png", metavar="OUT")
    out.add_argument("--svg", metavar="OUT")
    sh.add_argument(
        "--last", type=int, default=60, help="events of the text rendering, from the end (0: all)"
    )
    sh.add_argument(
        "--window", type=int, default=20,
        help="events of each lane in the picture, the last ones (1..500; default 20)",
    )  # fmt: skip
    sh.add_argument(
        "--perfetto", metavar="OUT.json",
        help="the whole trace in the Chrome/Perfetto trace-event format (ui.perfetto.dev)",
    )  # fmt: skip

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

    bench_cli.add_parser(sub, Parser, formatter)
    campaign_cli.add_parser(sub, formatter)
    report_cli.add_parser(sub, formatter)

    cl = sub.add_parser(
        "clean",
        help="remove your shared memory and semaphores left by runs whose owner is gone",
        formatter_class=formatter,
        epilog="examples:\n  testbed clean\n  testbed clean --dry-run\n"
        "  testbed clean --all --force   # every run's objects, live ones too\n\n" + SIMPLE_EXIT,
    )
    cl.add_argument("--all", action="store_true", help="also other users' objects")
    cl.add_argument(
        "--force", action="store_true", help="also objects of runs still alive (they then fail)"
    )
    cl.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    return parser


def _summary(doc: dict[str, Any], console: Console) -> None:
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
            f"  replay: testbed replay {q}   (also: testbed show {q}, testbed minimize {q})",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    for reason in doc["reasons"]:
        console.print(f"  - {reason}")


def _stress(args: argparse.Namespace) -> int:
    ref = loader.canonical(args.scenario)
    sc = loader.load(ref)
    ns = stress_parser(sc, args.scenario).parse_args(args.options)
    opts = run_options(sc, ref, ns)
    json_path = ns.json
    outputs.check_writable(json_path, "--json")
    outputs.check_writable(ns.junit, "--junit", suffix=".xml")
    json_to_stdout = json_path == "-"
    console = Console(stderr=json_to_stdout)
    with for_terminal(f"{sc.name} / {opts.variant}") as progress:
        opts.progress = progress
        doc = run(opts)
    _summary(doc, console)
    if json_path:
        outputs.write_json(json_path, doc)
    if ns.junit:
        from testbed.report.junit import write_junit

        write_junit([doc], ns.junit)
        console.print(f"JUnit XML: {ns.junit}")
    return doc["exit_code"]


def _scenarios(args: argparse.Namespace) -> int:
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


def _clean(args: argparse.Namespace) -> int:
    removed, kept = names.clean(all_users=args.all, force=args.force, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for obj in removed:
        print(f"{verb} {obj.kind} {obj.name}")
    for k in kept:
        print(f"kept {k.obj.kind} {k.obj.name} ({k.why})")
    print(f"{len(removed)} {verb}, {len(kept)} kept")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from testbed.harness.replay import replay
    from testbed.trace.trace import Trace

    if not 1 <= args.repeat <= 10000:
        raise ConfigError(f"--repeat {args.repeat}: expected 1..10000")
    outputs.check_writable(args.json, "--json")
    trace = Trace.load(args.trace)
    console = Console(stderr=args.json == "-")
    docs = []
    for k in range(args.repeat):
        doc = replay(trace, lock_timeout_s=args.lock_timeout)
        docs.append(doc)
        if doc["verdict"] == "aborted" and not doc["replay"]["reproduced"]:
            console.print(f"replay aborted: {doc['reasons'][0]}")
            break
        if args.repeat > 1:
            console.print(
                f"replay {k + 1}/{args.repeat}: {'reproduced' if doc['replay']['reproduced'] else 'NOT reproduced'}"
            )
    n = sum(d["replay"]["reproduced"] for d in docs)
    console.print(
        f"{trace.outcome}: reproduced in {n} of {len(docs)} replays "
        f"({docs[-1]['replay']['steps']} forced steps, {docs[-1]['replay']['steps_per_s']:,.0f} "
        f"steps/s, scenario {trace.scenario}, variant {trace.variant})"
    )
    if args.json:
        outputs.write_json(args.json, docs[0] if args.repeat == 1 else docs)
    if any(d["verdict"] == "aborted" and not d["replay"]["reproduced"] for d in docs):
        return EXIT_ABORTED
    return 0 if n == len(docs) else 1


def _minimize(args: argparse.Namespace) -> int:
    from testbed.harness.minimize import minimize
    from testbed.harness.replay import replay
    from testbed.trace.trace import Trace

    if not 1 <= args.max_replays <= 100_000:
        raise ConfigError(f"--max-replays {args.max_replays}: expected 1..100000")
    out = args.output or str(args.trace).removesuffix(".json") + ".min.json"
    outputs.check_writable(out, "-o/--output")
    trace = Trace.load(args.trace)
    console = Console()
    first = replay(trace)
    if first["verdict"] == "aborted":
        console.print(f"the trace does not replay: {first['reasons'][0]}")
        return EXIT_ABORTED
    if not first["replay"]["reproduced"]:
        console.print(f"the trace does not reproduce {trace.outcome}: nothing to minimize")
        return 1
    small, stats = minimize(
        trace, args.max_replays, progress=lambda s: console.print(f"[dim]{s}[/dim]")
    )
    small.save(out)
    before, after = stats["events_before"], stats["events_after"]
    console.print(
        f"{before} forced steps -> {after} ({100 * (before - after) / max(1, before):.0f}% removed) "
        f"in {stats['replays']} replays; written to {out}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from testbed.cli.show import MAX_WINDOW, perfetto, picture, text
    from testbed.trace.trace import Trace

    if args.last < 0:
        raise ConfigError(f"--last {args.last}: expected 0 or more")
    if not 1 <= args.window <= MAX_WINDOW:
        raise ConfigError(f"--window {args.window}: expected 1..{MAX_WINDOW}")
    outputs.check_writable(args.png, "--png", suffix=".png")
    outputs.check_writable(args.svg, "--svg", suffix=".svg")
    outputs.check_writable(args.perfetto, "--perfetto", suffix=".json")
    trace = Trace.load(args.trace)
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    text(trace, console, args.last)
    for path in (args.png, args.svg):
        if path:
            n = picture(trace, path, args.window)
            console.print(f"timeline: {path} ({n} of {len(trace.events)} events)")
    if args.perfetto:
        perfetto(trace, args.perfetto)
        console.print(f"trace events: {args.perfetto} (open in ui.perfetto.dev)")
    return 0


def _demo(args: argparse.Namespace) -> int:
    if not 0 < args.seconds <= 600:
        raise ConfigError(f"--seconds {args.seconds:g}: expected 0 < seconds <= 600")
    outputs.check_writable(args.json, "--json")
    from testbed.cli.demo import demo

    console = Console()
    if not console.is_terminal:
        console = Console(width=120)  # a log or a pipe: don't fold the table to 80 columns
    return demo(args.seconds, args.json, console)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = {
            "scenarios": _scenarios,
            "stress": _stress,
            "explore": explore_cli.run,
            "replay": _replay,
            "minimize": _minimize,
            "show": _show,
            "demo": _demo,
            "clean": _clean,
            "bench": bench_cli.run,
            "campaign": campaign_cli.run,
            "report": report_cli.run,
        }[args.command]
        return handler(args)
    except UsageError as e:
        e.parser.print_usage(sys.stderr)
        print(f"{e}", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as e:
        print(f"testbed: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except NativeLibraryMissing as e:
        print(f"testbed: error: {e}", file=sys.stderr)
        return EXIT_ABORTED


if __name__ == "__main__":
    sys.exit(main())
