"""What users type: the `testbed` command, its rendering, progress, `show` and `demo`."""

from testbed.cli.main import main

__all__ = ["main"]
