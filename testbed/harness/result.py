"""The result document of a run, its grades, verdict and exit code."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any

from testbed.harness import environment, loader
from testbed.scenario import Grade, Scenario

# one meaning each, in stress, explore, replay, campaign and the Python API
EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ABORTED, EXIT_INCOMPLETE = 0, 1, 2, 3, 4
NO_EVIDENCE = "no-evidence"  # the verdict of a run that checked nothing (exit 3)
NOT_JUDGED = ("aborted", NO_EVIDENCE)  # the verdicts of exit 3


def judge(
    scenario: Scenario,
    variant: str,
    outcomes: dict[str, int],
    require: list[str],
    aborted: bool,
    silent: list[str] | None = None,
    deadlock: list[str] | None = None,
) -> tuple[str, int, list[str]]:
    """(verdict, exit code, reasons) from the outcome counts. `silent`: the actors that
    recorded no outcome (None: not asked, an arbiter records for them). A run that would
    pass but recorded nothing, or in which an actor recorded nothing, checked nothing (or
    not everything): its verdict says so, never PASS."""
    if aborted:
        return "aborted", EXIT_ABORTED, ["the run was aborted"]
    grades = scenario.grades(variant)
    reasons = list(deadlock or [])  # a deadlock no outcome declares: a failure all the same
    reasons += [
        f"{name} seen {n} times, FORBIDDEN for {variant}"
        for name, n in outcomes.items()
        if n and grades[name] is Grade.FORBIDDEN
    ]
    reasons += [f"required outcome {name} never seen" for name in require if not outcomes.get(name)]
    if reasons:
        return "fail", EXIT_FAIL, reasons
    if not any(outcomes.values()):
        return (
            NO_EVIDENCE,
            EXIT_ABORTED,
            [
                "no evidence: no outcome was recorded, so nothing was checked (does the body "
                "call env.record, or the arbiter run?)"
            ],
        )
    if silent:
        return (
            NO_EVIDENCE,
            EXIT_ABORTED,
            [
                f"no evidence from {', '.join(silent)}: recorded no outcome (does its body call "
                "env.record?)"
            ],
        )
    return "pass", EXIT_OK, []


def document(
    *,
    scenario: Scenario,
    source: str,
    variant: str,
    config: dict[str, Any],
    seed: int,
    outcomes: dict[str, int],
    attempts: int,
    first_failure_s: float | None,
    elapsed_s: float,
    ctx_switches: dict[str, int],
    require: list[str],
    error: str | list[str] | None,
    extra: dict[str, Any] | None = None,
    silent: list[str] | None = None,
    deadlock: list[str] | None = None,
) -> dict[str, Any]:
    verdict, code, reasons = judge(
        scenario, variant, outcomes, require, error is not None, silent, deadlock
    )
    rate = attempts / elapsed_s if elapsed_s > 0 else 0.0
    doc: dict[str, Any] = {
        "scenario": scenario.name,
        "source": source,  # how to load it again: a name, PATH.py[:NAME] or module:NAME
        "variant": variant,
        "config": config,
        "seed": seed,
        "attempts": attempts,
        "outcomes": outcomes,
        "grades": {k: g.value for k, g in scenario.grades(variant).items()},
        "first_failure_s": first_failure_s,
        "elapsed_s": elapsed_s,
        scenario.rate_name: rate,
        "ctx_switches": ctx_switches,
        "required": require,
        "verdict": verdict,
        "reasons": reasons if error is None else [error] if isinstance(error, str) else error,
        "exit_code": code,
        "environment": environment.envelope(),
    }
    if extra:
        doc.update(extra)
    return doc


@dataclass(frozen=True)
class Result:
    """A run's result document, with what a test wants of it."""

    document: dict[str, Any]

    @property
    def verdict(self) -> str:
        """ "pass", "fail", "aborted" or "no-evidence" (nothing, or not every actor,
        recorded an outcome); explore adds "incomplete"."""
        return self.document["verdict"]

    @property
    def exit_code(self) -> int:
        return self.document["exit_code"]

    @property
    def outcomes(self) -> dict[str, int]:
        return self.document["outcomes"]

    @property
    def first_failure_s(self) -> float | None:
        return self.document["first_failure_s"]

    @property
    def trace_files(self) -> list[str]:
        return list(self.document.get("trace_files", []))

    def report(self) -> str:
        """What failed (outcome, count, grade), the trace, and the command that replays it."""
        d = self.document
        lines = [
            f"{d['scenario']} / {d['variant']}: {d['verdict'].upper()} (exit {d['exit_code']})"
        ]
        for name, count in d["outcomes"].items():
            grade = d["grades"][name]
            if count and grade != Grade.ACCEPTABLE.value:
                lines.append(f"  {name}: {count:,} times, {grade} for {d['variant']}")
        lines += [f"  - {r}" for r in d["reasons"]]
        verified = d.get("verified") or {}
        for path in self.trace_files:
            lines.append(f"trace: {path}")
            checked = (
                f"verified: reproduced {verified['reproduced']} of {verified['replays']}"
                if verified.get("trace") == path
                else "not verified"
            )
            flags = loader.replay_flags(d.get("source", ""))
            lines.append(f"replay: testbed replay {shlex.quote(path)}{flags}   ({checked})")
        if verified.get("label"):
            lines.append(f"trace: {verified['trace']}: {verified['label']}")
        if not self.trace_files and d["verdict"] == "fail":
            lines.append(
                f"no trace (recording off or --max-traces 0); run again with seed {d['seed']} "
                "and recording on to get one"
            )
        return "\n".join(lines)

    def assert_pass(self) -> None:
        if self.verdict != "pass":
            raise AssertionError(self.report())
