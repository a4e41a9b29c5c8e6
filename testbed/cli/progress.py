"""Live progress of a run: a rich display on a terminal, plain lines otherwise (both on stderr)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from testbed.harness.run import Snapshot


def _line(s: Snapshot) -> str:
    rate = s.attempts / s.elapsed_s if s.elapsed_s > 0 else 0.0
    counts = " ".join(f"{k}={v}" for k, v in s.outcomes.items())
    return f"{s.elapsed_s:7.2f}s  attempts={s.attempts}  {rate:,.0f}/s  {counts}"


class PlainProgress:
    def __init__(self, every_s: float = 1.0):
        self.every_s, self._next = every_s, 0.0

    def __call__(self, s: Snapshot) -> None:
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self.every_s
            print(_line(s), file=sys.stderr, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class RichProgress:
    def __init__(self, title: str):
        self.title = title
        self.live = Live(console=Console(stderr=True), refresh_per_second=8, transient=True)

    def __call__(self, s: Snapshot) -> None:
        table = Table(title=self.title, show_header=True)
        for col in ("elapsed", "attempts", "per s", *s.outcomes):
            table.add_column(col, justify="right")
        rate = s.attempts / s.elapsed_s if s.elapsed_s > 0 else 0.0
        table.add_row(
            f"{s.elapsed_s:.1f}s",
            f"{s.attempts:,}",
            f"{rate:,.0f}",
            *(f"{v:,}" for v in s.outcomes.values()),
        )
        self.live.update(table)

    def __enter__(self):
        self.live.start()
        return self

    def __exit__(self, *exc):
        self.live.stop()
        return False


def for_terminal(title: str):
    return RichProgress(title) if sys.stderr.isatty() else PlainProgress()
