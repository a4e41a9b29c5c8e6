"""Perturbation at schedule points, to make real preemption find bugs sooner.

- `none`: the OS alone decides.
- `yield:P`: sched_yield at each point with probability P.
- `delay:US[:P]`: a busy wait of US microseconds at each point with probability P (default 1).
- `pct:D`: PCT (Burckhardt et al., ASPLOS 2010) adapted to a real OS: each actor starts at a
  random priority (a nice level), and at D-1 random steps among the expected ones the
  running actor drops to the lowest priority (SCHED_IDLE). Unlike a controlled PCT
  scheduler, the OS still runs several actors at once (one per CPU) and a priority only
  weighs the OS's choice, so PCT's bound (a bug of depth d found with probability at least
  1/(n k^(d-1))) does not hold; what is left is its shape: few, well-spread priority changes
  that make a rare order of steps likely.
- `auto`: a seeded portfolio of all of these, changing during the run and across actors
  (testbed/harness/portfolio.py).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from testbed.harness import portfolio
from testbed.scenario import ConfigError

STRATEGIES = "none | yield:P | delay:US[:P] | pct:D | auto"
MAX_DELAY_US = 100_000
MAX_PCT_DEPTH = 64


@dataclass(frozen=True)
class Perturb:
    kind: str = "none"
    p: float = 0.0
    delay_us: float = 0.0
    depth: int = 0

    def __str__(self) -> str:
        if self.kind == "yield":
            return f"yield:{self.p:g}"
        if self.kind == "delay":
            return f"delay:{self.delay_us:g}:{self.p:g}"
        if self.kind == "pct":
            return f"pct:{self.depth}"
        if self.kind == "auto":
            return "auto"
        return "none"


def _number(text: str, what: str, spec: str, lo: float, hi: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"--perturb {spec!r}: {what} {text!r} is not a number ({lo:g}..{hi:g})"
        ) from None
    if not lo <= value <= hi:
        raise ConfigError(f"--perturb {spec!r}: {what} {value:g} outside {lo:g}..{hi:g}")
    return value


def parse(spec: str) -> Perturb:
    """`--perturb` text to a Perturb; ConfigError names the bad part and the range."""
    kind, _, rest = spec.partition(":")
    args = rest.split(":") if rest else []
    if kind == "none" and not args:
        return Perturb()
    if kind == "auto" and not args:
        return Perturb("auto")
    if kind == "yield" and len(args) == 1:
        return Perturb("yield", p=_number(args[0], "probability", spec, 0, 1))
    if kind == "delay" and len(args) in (1, 2):
        us = _number(args[0], "microseconds", spec, 0, MAX_DELAY_US)
        p = _number(args[1], "probability", spec, 0, 1) if len(args) == 2 else 1.0
        return Perturb("delay", p=p, delay_us=us)
    if kind == "pct" and len(args) == 1:
        d = _number(args[0], "depth", spec, 1, MAX_PCT_DEPTH)
        if d != int(d):
            raise ConfigError(
                f"--perturb {spec!r}: depth {d:g} is not a whole number (1..{MAX_PCT_DEPTH})"
            )
        return Perturb("pct", depth=int(d))
    raise ConfigError(f"--perturb {spec!r}: expected {STRATEGIES}")


def hook(
    perturb: Perturb, rng: random.Random, expected_steps: int
) -> Callable[[str, int], None] | None:
    """The function an actor calls at each schedule point with the point's global step
    number (its ticket), or None for `none`. For PCT the change points are drawn afresh
    for each window of `expected_steps` global steps."""
    if perturb.kind == "yield":
        p, rand, yield_ = perturb.p, rng.random, os.sched_yield

        def at_point(name: str, ticket: int) -> None:
            if rand() < p:
                yield_()

        return at_point
    if perturb.kind == "delay":
        p, rand, clock, delay = perturb.p, rng.random, time.perf_counter, perturb.delay_us * 1e-6

        def at_point(name: str, ticket: int) -> None:
            if rand() < p:
                end = clock() + delay
                while clock() < end:
                    pass

        return at_point
    if perturb.kind == "pct":
        return _Pct(perturb.depth, rng, max(1, expected_steps)).at_point
    if perturb.kind == "auto":
        return portfolio.Auto(rng, max(1, expected_steps)).at_point
    return None


class _Pct:
    def __init__(self, depth: int, rng: random.Random, window: int):
        self.rng, self.window, self.depth = rng, window, depth
        self.epoch = -1
        self.changes: set[int] = set()
        self.low = False
        self._set_nice(rng.randrange(0, 19))  # a random starting priority

    @staticmethod
    def _set_nice(nice: int) -> None:
        os.setpriority(os.PRIO_PROCESS, 0, nice)

    def _lowest(self) -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, PermissionError, OSError):
            self._set_nice(19)
        self.low = True

    def at_point(self, name: str, t: int) -> None:
        epoch = t // self.window
        if epoch != self.epoch:  # a new window of steps: new change points, priority back
            self.epoch = epoch
            r = random.Random(self.rng.random())
            self.changes = {
                epoch * self.window + r.randrange(self.window) for _ in range(self.depth - 1)
            }
            if self.low:
                try:
                    os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
                except OSError:
                    pass
                self._set_nice(self.rng.randrange(0, 19))
                self.low = False
        if t in self.changes:
            self._lowest()
