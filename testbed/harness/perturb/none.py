"""`--perturb none`: the OS alone decides."""

from __future__ import annotations

import random

from testbed.harness.perturb.base import Hook, Perturb


class NoPerturbation:
    name = "none"
    syntax = "none"
    portfolio = ("none",)

    def parse(self, args: list[str], spec: str) -> Perturb | None:
        return Perturb() if not args else None

    def text(self, perturb: Perturb) -> str:
        return "none"

    def hook(self, perturb: Perturb, rng: random.Random, expected_steps: int) -> Hook | None:
        return None

    def end(self) -> None:
        pass


NONE = NoPerturbation()
