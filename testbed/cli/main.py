"""The `testbed` command: the parser built from the commands' modules, and the dispatch.
Each command is a module of this package with `register(subparsers)` and `run(args)`."""

from __future__ import annotations

import argparse
import sys

from testbed._version import __version__
from testbed.cli import (
    bench,
    campaign,
    clean,
    demo,
    explain,
    explore,
    minimize,
    replay,
    report,
    scenarios,
    show,
    stress,
)
from testbed.harness.options import Parser, UsageError, formatter
from testbed.harness.result import EXIT_ABORTED, EXIT_USAGE
from testbed.ipc.native import NativeLibraryMissing
from testbed.scenario import ConfigError

# in the order `testbed --help` lists them
ORDER = (
    scenarios,
    stress,
    explore,
    replay,
    minimize,
    explain,
    show,
    demo,
    bench,
    campaign,
    report,
    clean,
)
COMMANDS = {m.__name__.rsplit(".", 1)[1]: m for m in ORDER}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="testbed",
        description="Real-concurrency testbed for kernel stack allocators: real processes, "
        "a real core process, shared memory and named semaphores.",
        formatter_class=formatter,
        epilog="examples:\n  testbed scenarios\n  testbed stress genode-race --variant racy\n"
        "  testbed stress ./my_scenario.py --variant broken\n"
        "  testbed replay traces/T.json\n  testbed explain traces/T.json\n"
        "  testbed show traces/T.json --png T.png\n"
        "  testbed demo\n  testbed clean\n\nexit codes: 0 pass, 1 FORBIDDEN outcome or --require unmet, "
        "2 bad usage, 3 aborted",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"testbed {__version__}",
        help="print the testbed's version (the one trace files and result documents record)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS.values():
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return COMMANDS[args.command].run(args)
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
