"""`--perturb delay:US[:P]`: a busy wait of US microseconds at each point with probability P
(default 1)."""

from __future__ import annotations

import random
import time

from testbed.harness.perturb.base import Hook, Perturb, number

MAX_DELAY_US = 100_000


class Delay:
    name = "delay"
    syntax = "delay:US[:P]"
    portfolio = ("delay:20:0.05",)  # a short delay at some points

    def parse(self, args: list[str], spec: str) -> Perturb | None:
        if len(args) not in (1, 2):
            return None
        us = number(args[0], "microseconds", spec, 0, MAX_DELAY_US)
        p = number(args[1], "probability", spec, 0, 1) if len(args) == 2 else 1.0
        return Perturb("delay", p=p, delay_us=us)

    def text(self, perturb: Perturb) -> str:
        return f"delay:{perturb.delay_us:g}:{perturb.p:g}"

    def hook(self, perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
        p, rand, clock, delay = perturb.p, rng.random, time.perf_counter, perturb.delay_us * 1e-6

        def at_point(name: str, ticket: int) -> None:
            if rand() < p:
                end = clock() + delay
                while clock() < end:
                    pass

        return at_point

    def end(self) -> None:
        pass


DELAY = Delay()
