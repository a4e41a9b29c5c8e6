"""What a scenario declares (in the manner of jcstress): variants, graded outcomes, actors.

The harness in testbed/ does all the running, counting and reporting; a scenario holds
none of it. A scenario is a module of scenarios/ with one `Scenario` subclass.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Grade(str, Enum):
    ACCEPTABLE = "ACCEPTABLE"
    INTERESTING = "INTERESTING"
    FORBIDDEN = "FORBIDDEN"


@dataclass(frozen=True)
class Outcome:
    name: str
    description: str
    grades: dict[str, Grade]  # variant -> grade
    failure: bool = True  # counts for first_failure_s and --max-failures


class ConfigError(ValueError):
    """Bad usage or configuration (exit 2); the message names the value and the accepted range."""


def in_range(option: str, value: int, lo: int, hi: int) -> int:
    """`value`, or ConfigError naming it and the range (nothing is clamped)."""
    if not lo <= value <= hi:
        raise ConfigError(f"{option} {value}: expected {lo}..{hi}")
    return value


class Scenario:
    name = ""
    description = ""
    variants: dict[str, str] = {}  # name -> one-line description
    outcomes: tuple[Outcome, ...] = ()
    points: tuple[str, ...] = ()  # schedule points its actors pass
    rate_name = "attempts_per_s"  # the result document's name for attempts a second
    examples: tuple[str, ...] = ()  # command lines for `testbed stress NAME --help`

    # -- configuration ---------------------------------------------------------------------
    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Options of `testbed stress NAME` beyond the common ones."""

    def configure(self, args: argparse.Namespace) -> dict[str, Any]:
        """Validated scenario config from the parsed options; raises ConfigError."""
        return {}

    # -- the run ---------------------------------------------------------------------------
    def actors(self, config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        """(name, params) of each actor process."""
        raise NotImplementedError

    def locks(self, config: dict[str, Any]) -> list[str]:
        return []

    def regions(self, config: dict[str, Any]) -> dict[str, int]:
        """Shared regions the scenario needs: name -> number of 64-bit words."""
        return {}

    def init_shared(self, seg, config: dict[str, Any]) -> None:
        """Initialise the scenario's regions before any child starts."""

    def core(self, seg, config: dict[str, Any]):
        """The object core serves requests with: `serve(op, pd, a0, a1, a2)` and `describe`."""
        raise NotImplementedError

    def core_event(self, op: int, status: int, key: int) -> dict[str, Any]:
        """How a request core served reads in a trace (names rather than numbers)."""
        return {"op": op, "status": status, "key": key}

    def expected_steps(self, config: dict[str, Any]) -> int:
        """Schedule points all actors pass in one iteration of the test: PCT's window."""
        return 100

    def run_actor(self, env, actor) -> None:
        """The body of one actor process: do attempts, `env.record(outcome)` each."""
        raise NotImplementedError

    def result_extra(self, seg, config: dict[str, Any]) -> dict[str, Any]:
        """Fields the scenario adds to the result document, read from its regions at the end
        of the run (after core and the actors stopped)."""
        return {}

    # -- grading ---------------------------------------------------------------------------
    def outcome(self, name: str) -> Outcome:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)

    def grades(self, variant: str) -> dict[str, Grade]:
        return {o.name: o.grades[variant] for o in self.outcomes}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "variants": dict(self.variants),
            "outcomes": [
                {
                    "name": o.name,
                    "description": o.description,
                    "grades": {v: g.value for v, g in o.grades.items()},
                }
                for o in self.outcomes
            ],
            "points": list(self.points),
        }
