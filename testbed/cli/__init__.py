"""What users type: the `testbed` command, its rendering, progress, `show` and `demo`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """The `testbed` command. Its modules are imported here, not above, so that a Ctrl-C
    while they import (a second or two: numpy, matplotlib, rich) ends it cleanly, exit 3."""
    try:
        from testbed.cli.main import main as run_command

        return run_command(argv)
    except KeyboardInterrupt:
        print("testbed: interrupted (Ctrl-C)", file=sys.stderr)
        return 3  # aborted (testbed.harness.result.EXIT_ABORTED)


__all__ = ["main"]
