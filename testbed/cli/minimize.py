"""`testbed minimize TRACE`: shrink a trace while its outcome still reproduces."""

from __future__ import annotations

import argparse

from rich.console import Console

from testbed.cli.common import add_trace_arguments
from testbed.harness import output_paths
from testbed.harness.options import formatter
from testbed.harness.result import EXIT_ABORTED
from testbed.scenario import ConfigError

EXIT_CODES = (
    "exit codes: 0 minimized, 1 the trace does not reproduce, 2 bad usage or an unusable trace, "
    "3 aborted"
)


def register(sub: argparse._SubParsersAction) -> None:
    mn = sub.add_parser(
        "minimize",
        help="shrink a trace while its outcome still reproduces",
        formatter_class=formatter,
        epilog="examples:\n  testbed minimize T.json\n  testbed minimize T.json -o small.json "
        "--max-replays 100\n\n" + EXIT_CODES,
    )
    add_trace_arguments(mn)
    mn.add_argument(
        "-o", "--output", help="where the smaller trace goes (default: TRACE with .min.json)"
    )
    mn.add_argument(
        "--max-replays", type=int, default=300, help="replays to spend (1..100000; default 300)"
    )


def run(args: argparse.Namespace) -> int:
    from testbed.harness.minimize import minimize
    from testbed.harness.replay import replay, trusted
    from testbed.trace.trace import Trace

    if not 1 <= args.max_replays <= 100_000:
        raise ConfigError(f"--max-replays {args.max_replays}: expected 1..100000")
    out = args.output or str(args.trace).removesuffix(".json") + ".min.json"
    output_paths.check_writable(out, "-o/--output")
    trace = trusted(Trace.load(args.trace), args.trace, args.scenario, args.trust_source)
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
