"""A phase of `auto` at a random priority (nice level) for its whole length. Not a `--perturb`
strategy of its own (not registered): only the portfolio runs it."""

from __future__ import annotations

import random

from testbed.harness.perturb import priority
from testbed.harness.perturb.base import Hook, Perturb


class Nice:
    name = "nice"
    syntax = "nice"
    portfolio = ("nice",)

    def parse(self, args: list[str], spec: str) -> Perturb | None:
        return Perturb("nice") if not args else None

    def text(self, perturb: Perturb) -> str:
        return "nice"

    def hook(self, perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
        priority.nice(rng.randrange(0, 20))
        return None

    def end(self) -> None:
        priority.normal()


NICE = Nice()
