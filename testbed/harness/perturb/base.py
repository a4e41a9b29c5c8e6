"""The perturbation protocol, the record `--perturb` parses to, and the registry by name.

A strategy is an object with a `name` (the word before the first `:` of `--perturb`), its
`syntax` for the help, the settings it lends `auto`, and four methods: `parse` the words
after its name, `text` a record back, make the `hook` an actor calls at each schedule point,
and `end` what the hook did to the process. `registry.py` registers the built-in ones;
`auto.py` composes them and registers itself last.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from testbed.scenario import ConfigError

# what an actor calls at each schedule point: the point's name and its global step (ticket)
Hook = Callable[[str, int], None]


@dataclass(frozen=True)
class Perturb:
    """A parsed `--perturb`: the strategy's name and its parameters (unused ones 0)."""

    kind: str = "none"
    p: float = 0.0  # yield, delay: the probability a point acts
    delay_us: float = 0.0  # delay: the busy wait
    depth: int = 0  # pct: the bug depth d (d - 1 priority drops a window)

    def __str__(self) -> str:
        return REGISTRY[self.kind].text(self)


class PerturbStrategy(Protocol):
    """One perturbation strategy. It holds no per-actor state: `hook` makes that, once per
    actor, from the actor's own seeded generator (a seed gives the same draws)."""

    name: str  # `--perturb NAME[:ARGS]`
    syntax: str  # as the help and the error list it: "delay:US[:P]"
    portfolio: tuple[str, ...]  # settings `auto` may run, as `--perturb` text, in its order

    def parse(self, args: list[str], spec: str) -> Perturb | None:
        """The record for `NAME:args`; None when the number of args is wrong (the caller then
        lists every syntax); ConfigError naming a bad value and its range."""
        ...

    def text(self, perturb: Perturb) -> str:
        """`perturb` as `--perturb` text: parse(text) gives it back."""
        ...

    def hook(self, perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
        """The callable for one actor's schedule points (None: nothing to do at them); it may
        change the process now (a priority). Draws only from `rng`; `expected_steps` >= 1."""
        ...

    def end(self) -> None:
        """Undo what `hook` did to the process (priority, scheduling class); `auto` calls it
        when this strategy's phase ends."""
        ...


REGISTRY: dict[str, PerturbStrategy] = {}  # name -> strategy, in the order the help lists


def register(strategy: PerturbStrategy) -> PerturbStrategy:
    if strategy.name in REGISTRY:
        raise ValueError(f"perturbation strategy {strategy.name!r} registered twice")
    REGISTRY[strategy.name] = strategy
    return strategy


def syntax() -> str:
    """Every registered strategy's syntax: "none | yield:P | ..."."""
    return " | ".join(s.syntax for s in REGISTRY.values())


def parse(spec: str) -> Perturb:
    """`--perturb` text to a Perturb; ConfigError names the bad part and the range."""
    kind, _, rest = spec.partition(":")
    args = rest.split(":") if rest else []
    strategy = REGISTRY.get(kind)
    perturb = strategy.parse(args, spec) if strategy is not None else None
    if perturb is None:
        raise ConfigError(f"--perturb {spec!r}: expected {syntax()}")
    return perturb


def hook(perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
    """The function an actor calls at each schedule point with the point's global step
    number (its ticket), or None for `none`."""
    return REGISTRY[perturb.kind].hook(perturb, rng, max(1, expected_steps))


def number(text: str, what: str, spec: str, lo: float, hi: float) -> float:
    """A parameter of `spec` in lo..hi, or ConfigError naming it and the range."""
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(
            f"--perturb {spec!r}: {what} {text!r} is not a number ({lo:g}..{hi:g})"
        ) from None
    if not lo <= value <= hi:
        raise ConfigError(f"--perturb {spec!r}: {what} {value:g} outside {lo:g}..{hi:g}")
    return value
