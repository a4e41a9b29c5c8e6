"""`--perturb pct:D`: PCT's shape on the OS's priorities (not explore's controlled PCT
sampler, testbed/explorer/strategies/controlled_pct.py, which keeps PCT's bound).

PCT (Burckhardt et al., ASPLOS 2010) adapted to a real OS: each actor starts at a random
priority (a nice level), and at D-1 random steps among the expected ones the running actor
drops to the lowest priority (SCHED_IDLE). Unlike a controlled PCT scheduler, the OS still
runs several actors at once (one per CPU) and a priority only weighs the OS's choice, so
PCT's bound (a bug of depth d found with probability at least 1/(n k^(d-1))) does not hold;
what is left is its shape: few, well-spread priority changes that make a rare order of
steps likely.
"""

from __future__ import annotations

import os
import random

from testbed.harness.perturb import priority
from testbed.harness.perturb.base import Hook, Perturb, number
from testbed.scenario import ConfigError

MAX_PCT_DEPTH = 64


class OsPriorityPct:
    name = "pct"  # the CLI's spelling
    syntax = "pct:D"
    portfolio = ("pct:2", "pct:3")

    def parse(self, args: list[str], spec: str) -> Perturb | None:
        if len(args) != 1:
            return None
        d = number(args[0], "depth", spec, 1, MAX_PCT_DEPTH)
        if d != int(d):
            raise ConfigError(
                f"--perturb {spec!r}: depth {d:g} is not a whole number (1..{MAX_PCT_DEPTH})"
            )
        return Perturb("pct", depth=int(d))

    def text(self, perturb: Perturb) -> str:
        return f"pct:{perturb.depth}"

    def hook(self, perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
        """The change points are drawn afresh for each window of `expected_steps` global
        steps."""
        return _ActorPriorities(perturb.depth, rng, expected_steps).at_point

    def end(self) -> None:
        priority.normal()


class _ActorPriorities:
    """One actor's priority under OS-priority PCT: a random nice level, dropped to the lowest
    at this window's change points, drawn again at the next window."""

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


OS_PRIORITY_PCT = OsPriorityPct()
