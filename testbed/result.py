"""The result document of a run, its grades, verdict and exit code."""

from __future__ import annotations

from typing import Any

from .scenario import Grade, Scenario

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_ABORTED = 0, 1, 2, 3


def judge(
    scenario: Scenario, variant: str, outcomes: dict[str, int], require: list[str], aborted: bool
) -> tuple[str, int, list[str]]:
    """(verdict, exit code, reasons) from the outcome counts."""
    if aborted:
        return "aborted", EXIT_ABORTED, ["the run was aborted"]
    grades = scenario.grades(variant)
    reasons = [
        f"{name} seen {n} times, FORBIDDEN for {variant}"
        for name, n in outcomes.items()
        if n and grades[name] is Grade.FORBIDDEN
    ]
    reasons += [f"required outcome {name} never seen" for name in require if not outcomes.get(name)]
    if reasons:
        return "fail", EXIT_FAIL, reasons
    return "pass", EXIT_OK, []


def document(
    *,
    scenario: Scenario,
    variant: str,
    config: dict[str, Any],
    seed: int,
    outcomes: dict[str, int],
    attempts: int,
    first_failure_s: float | None,
    elapsed_s: float,
    ctx_switches: dict[str, int],
    require: list[str],
    error: str | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    verdict, code, reasons = judge(scenario, variant, outcomes, require, error is not None)
    rate = attempts / elapsed_s if elapsed_s > 0 else 0.0
    doc: dict[str, Any] = {
        "scenario": scenario.name,
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
        "reasons": reasons if error is None else [error],
        "exit_code": code,
    }
    if extra:
        doc.update(extra)
    return doc
