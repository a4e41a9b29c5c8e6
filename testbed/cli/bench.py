"""`testbed bench [NAME ...]`: the benches of bench/ through their one harness."""

from __future__ import annotations

import argparse

from testbed.harness.options import formatter
from testbed.scenario import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    from testbed.bench import NAMES, harness

    bp = sub.add_parser(
        "bench",
        help="run benches through one harness (profiles quick|default|tough)",
        description="Run the benches of bench/: the same options, one result envelope, "
        "one table style; ratios against a baseline of the same run.",
        formatter_class=formatter,
        epilog=harness.EPILOG,
    )
    harness.add_arguments(bp, NAMES)


def run(args: argparse.Namespace) -> int:
    from testbed import bench
    from testbed.bench import harness

    names = args.names or list(bench.NAMES)
    try:
        benches = [bench.load(n) for n in names]
    except ValueError as e:
        raise ConfigError(str(e)) from None
    return harness.execute(
        benches, args.profile, args.trials, args.seconds, args.variant, args.json, args.html
    )
