"""A step of a forced order, as a value: "let actor A run until it reaches point P" (the
controlled runs' scripts are lists of them; harness/script.py follows them)."""

from __future__ import annotations

from dataclasses import dataclass

FINISH = "finish"  # a step's point: the actor's end


@dataclass(frozen=True)
class Step:
    actor: str
    point: str
    optional: bool = False
    passes: bool = False  # let the actor through the point once it is there (a replay's step)
    fresh: bool = False  # its next arrival at the point, even if it is parked there now
