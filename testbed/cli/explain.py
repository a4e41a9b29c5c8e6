"""`testbed explain TRACE`: replay a trace once and tell its failure as a short causal story:
the conflicting accesses in order, who made each, the values, the source lines."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.markup import escape

from testbed.cli.common import add_trace_arguments
from testbed.harness import output_paths
from testbed.harness.options import formatter
from testbed.scenario import ConfigError

EXIT_CODES = (
    "exit codes: 0 explained, 2 bad usage or an unusable trace, 3 the trace did not "
    "reproduce (no story from a replay that went elsewhere)"
)


def register(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser(
        "explain",
        help="replay a trace once and tell the race: the conflicting accesses, in order, "
        "with their values and source lines",
        formatter_class=formatter,
        epilog="examples:\n  testbed explain traces/T.min.json\n"
        "  testbed explain T.json --scenario my_scenario.py --json story.json\n"
        "  testbed report story.json --html story.html\n\n" + EXIT_CODES,
    )
    add_trace_arguments(ex)
    ex.add_argument("--json", metavar="PATH|-", help="write the result document, the story in it")
    ex.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds an actor may wait its turn"
    )


def run(args: argparse.Namespace) -> int:
    from testbed.harness.explain import explain, header
    from testbed.harness.replay import trusted
    from testbed.trace import story
    from testbed.trace.trace import Trace

    if not 0 < args.lock_timeout <= 3600:  # (nan fails it too)
        raise ConfigError(f"--lock-timeout {args.lock_timeout:g}: expected 0 < seconds <= 3600")
    output_paths.check_writable(args.json, "--json")
    trace = trusted(Trace.load(args.trace), args.trace, args.scenario, args.trust_source)
    console = Console(stderr=args.json == "-", highlight=False, soft_wrap=True)
    doc = explain(trace, args.trace, lock_timeout_s=args.lock_timeout)
    if doc["explain"] is None:
        why = (
            doc["reasons"][0]
            if doc["verdict"] == "aborted" and doc.get("reasons")
            else f"the forced order ran to {', '.join(n for n, c in doc['outcomes'].items() if c) or 'no outcome'}"
        )
        console.print(
            escape(f"{trace.outcome}: the trace did not reproduce ({why}): no story to tell")
        )
    else:
        for line in story.render(doc["explain"]["story"], header(doc)):
            console.print(escape(line))
    if args.json:
        output_paths.write_json(args.json, doc)
    return doc["exit_code"]
