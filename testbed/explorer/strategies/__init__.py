"""The order in which `testbed explore` tries schedules: a protocol (`Strategy`, base.py),
one file a strategy, and a registry from `--strategy` names to builders.

- `dfs`: every schedule with at most K preemptions, reduced by bounded DPOR
  (bounded_dpor.py, the default), sleep sets (dfs.py, iterative.py) or nothing; with no
  bound, source-set DPOR (dpor.py).
- `random` (random_walk.py): a uniformly random enabled actor each step.
- `pct` (controlled_pct.py): the controlled PCT sampler, with PCT's bound (not the
  perturbation `--perturb pct:D`, which only moves OS priorities).
- `pos` (pos.py): partial order sampling; `rff` (rff.py): reads-from coverage-guided
  sampling on top of it; `auto` (portfolio.py): a seeded portfolio of the four samplers.
"""

from __future__ import annotations

from collections.abc import Callable

from testbed.explorer.strategies.base import NotDeterministic, Setup, Strategy, StrategyBase
from testbed.explorer.strategies.bounded_dpor import BoundedDpor
from testbed.explorer.strategies.controlled_pct import ControlledPct
from testbed.explorer.strategies.dfs import Dfs, Node
from testbed.explorer.strategies.dpor import Dpor
from testbed.explorer.strategies.iterative import IterativeDfs
from testbed.explorer.strategies.portfolio import Auto
from testbed.explorer.strategies.pos import Pos
from testbed.explorer.strategies.random_walk import RandomWalk
from testbed.explorer.strategies.rff import Rff

Builder = Callable[[Setup], Strategy]


def _dfs(setup: Setup) -> Strategy:
    """dfs reduces with DPOR (the default; bounded DPOR under a bound), else sleep sets or
    nothing; with a bound either deepens it one preemption at a time."""
    if setup.reduction == "dpor":
        return Dpor.build(setup) if setup.preemptions is None else BoundedDpor.build(setup)
    if setup.preemptions is None:
        return Dfs.build(setup)
    return IterativeDfs.build(setup)


REGISTRY: dict[str, Builder] = {
    "dfs": _dfs,
    "random": RandomWalk.build,
    "pct": ControlledPct.build,
    "pos": Pos.build,
    "rff": Rff.build,
    "auto": Auto.build,
}
STRATEGIES = tuple(REGISTRY)  # `--strategy`'s choices
SAMPLERS = ("random", "pct", "pos", "rff", "auto")  # never complete; footprints: pos, rff, auto


def build(name: str, setup: Setup) -> Strategy:
    """The strategy `--strategy name` runs (a name checked against STRATEGIES)."""
    return REGISTRY[name](setup)


__all__ = [
    "REGISTRY",
    "SAMPLERS",
    "Auto",
    "BoundedDpor",
    "Pos",
    "Rff",
    "STRATEGIES",
    "Builder",
    "ControlledPct",
    "Dfs",
    "Dpor",
    "IterativeDfs",
    "Node",
    "NotDeterministic",
    "RandomWalk",
    "Setup",
    "Strategy",
    "StrategyBase",
    "build",
]
