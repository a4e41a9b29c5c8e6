"""`--perturb yield:P`: sched_yield at each point with probability P."""

from __future__ import annotations

import os
import random

from testbed.harness.perturb.base import Hook, Perturb, number


class Yield:
    name = "yield"
    syntax = "yield:P"
    portfolio = ("yield:0.05", "yield:0.5")  # rare, frequent

    def parse(self, args: list[str], spec: str) -> Perturb | None:
        if len(args) != 1:
            return None
        return Perturb("yield", p=number(args[0], "probability", spec, 0, 1))

    def text(self, perturb: Perturb) -> str:
        return f"yield:{perturb.p:g}"

    def hook(self, perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
        p, rand, yield_ = perturb.p, rng.random, os.sched_yield

        def at_point(name: str, ticket: int) -> None:
            if rand() < p:
                yield_()

        return at_point

    def end(self) -> None:
        pass


YIELD = Yield()
