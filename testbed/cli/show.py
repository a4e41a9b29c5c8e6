"""`testbed show TRACE`: a trace's interleaving as text, a timeline picture, or a Perfetto
document (the drawing itself is testbed/report/timeline.py)."""

from __future__ import annotations

import argparse

from rich.console import Console

from testbed.cli.common import SIMPLE_EXIT
from testbed.harness import output_paths
from testbed.harness.options import formatter
from testbed.scenario import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
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


def run(args: argparse.Namespace) -> int:
    from testbed.report.timeline import MAX_WINDOW, perfetto, picture, text
    from testbed.trace.trace import Trace

    if args.last < 0:
        raise ConfigError(f"--last {args.last}: expected 0 or more")
    if not 1 <= args.window <= MAX_WINDOW:
        raise ConfigError(f"--window {args.window}: expected 1..{MAX_WINDOW}")
    output_paths.check_writable(args.png, "--png", suffix=".png")
    output_paths.check_writable(args.svg, "--svg", suffix=".svg")
    output_paths.check_writable(args.perfetto, "--perfetto", suffix=".json")
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
