"""`testbed replay TRACE`: force a trace's order again; exit 0 if its outcome happens again."""

from __future__ import annotations

import argparse

from rich.console import Console

from testbed.cli.common import add_trace_arguments
from testbed.harness import output_paths
from testbed.harness.options import formatter
from testbed.harness.result import EXIT_ABORTED
from testbed.scenario import ConfigError

EXIT_CODES = (
    "exit codes: 0 reproduced (every time), 1 not reproduced, 2 bad usage or an unusable trace, "
    "3 aborted"
)


def register(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser(
        "replay",
        help="run a trace's order again; exit 0 if its outcome happens again, 1 if not",
        formatter_class=formatter,
        epilog="examples:\n  testbed replay traces/genode-race.quickfix.7.ab12cd.0.json\n"
        "  testbed replay T.json --repeat 100 --json -\n\n" + EXIT_CODES,
    )
    add_trace_arguments(rp)
    rp.add_argument(
        "--repeat", type=int, default=1, help="replays (1..10000); exit 0 only if all reproduce"
    )
    rp.add_argument("--json", metavar="PATH|-", help="write the result document(s)")
    rp.add_argument(
        "--lock-timeout", type=float, default=10.0, help="seconds an actor may wait its turn"
    )


def run(args: argparse.Namespace) -> int:
    from testbed.harness.replay import judged, replay, trusted
    from testbed.trace.trace import Trace

    if not 1 <= args.repeat <= 10000:
        raise ConfigError(f"--repeat {args.repeat}: expected 1..10000")
    if not 0 < args.lock_timeout <= 3600:  # (nan fails it too)
        raise ConfigError(f"--lock-timeout {args.lock_timeout:g}: expected 0 < seconds <= 3600")
    output_paths.check_writable(args.json, "--json")
    trace = trusted(Trace.load(args.trace), args.trace, args.scenario, args.trust_source)
    console = Console(stderr=args.json == "-")
    docs = []
    for k in range(args.repeat):
        doc = judged(replay(trace, lock_timeout_s=args.lock_timeout))
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
        output_paths.write_json(args.json, docs[0] if args.repeat == 1 else docs)
    if any(d["verdict"] == "aborted" and not d["replay"]["reproduced"] for d in docs):
        return EXIT_ABORTED
    return 0 if n == len(docs) else 1
