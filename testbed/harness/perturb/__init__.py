"""Perturbation at schedule points, to make real preemption find bugs sooner: a protocol
(`PerturbStrategy`, base.py), one file a strategy, and a registry by name.

- `none` (none.py): the OS alone decides.
- `yield:P` (yield_.py): sched_yield at each point with probability P.
- `delay:US[:P]` (delay.py): a busy wait of US microseconds at each point with probability P.
- `pct:D` (os_pct.py): PCT's shape on the OS's priorities, where its bound does not hold
  (explore's `--strategy pct` is the controlled PCT sampler, which keeps it).
- `auto` (auto.py): a seeded portfolio of all of these, changing during the run and across
  actors.
"""

from __future__ import annotations

from testbed.harness.perturb import auto, registry
from testbed.harness.perturb.auto import CATALOGUE, Auto
from testbed.harness.perturb.base import (
    REGISTRY,
    Hook,
    Perturb,
    PerturbStrategy,
    hook,
    parse,
    register,
    syntax,
)
from testbed.harness.perturb.delay import MAX_DELAY_US
from testbed.harness.perturb.os_pct import MAX_PCT_DEPTH

STRATEGIES = syntax()  # "none | yield:P | delay:US[:P] | pct:D | auto"

__all__ = [
    "CATALOGUE",
    "MAX_DELAY_US",
    "MAX_PCT_DEPTH",
    "REGISTRY",
    "STRATEGIES",
    "Auto",
    "Hook",
    "Perturb",
    "PerturbStrategy",
    "auto",
    "hook",
    "parse",
    "register",
    "registry",
    "syntax",
]
