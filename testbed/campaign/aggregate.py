"""What a campaign's runs say, a cell (scenario, variant, strategy, pin): failing runs with a
Wilson interval, time and attempts to the first failure (median, quartiles, distribution),
and for a bug never seen an upper bound on its rate a attempt (rule of three: 3/N at 95%)."""

from __future__ import annotations

import math
import statistics
from typing import Any

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (0, 1 for n = 0)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def quartiles(xs: list[float]) -> dict[str, Any]:
    xs = sorted(xs)
    if not xs:
        return {"median": None, "q1": None, "q3": None, "min": None, "max": None, "all": []}
    if len(xs) == 1:
        q1 = q3 = xs[0]
    else:
        q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return {"median": statistics.median(xs), "q1": q1, "q3": q3, "min": xs[0], "max": xs[-1],
            "all": xs}  # fmt: skip


def cell(key: dict[str, str], runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The aggregate of one cell from its run records (see campaign.runner)."""
    docs = [r["document"] for r in runs if r.get("document")]
    failing = [d for d in docs if d["first_failure_s"] is not None]
    attempts = sum(d["attempts"] for d in docs)
    outcomes: dict[str, int] = {}
    grades: dict[str, str] = {}
    for d in docs:
        for name, n in d["outcomes"].items():
            outcomes[name] = outcomes.get(name, 0) + n
        grades.update(d["grades"])
    skipped = sum(r["status"] == "skipped" for r in runs)
    lost = sum(r["status"] == "lost" for r in runs)
    # a cell with no finished run (the budget ended first, or every run was lost) measured
    # nothing: no rate, no interval, "not run" with the reason, never a rate of 0
    not_run = (
        None if docs
        else f"not run: {skipped} skipped (the campaign stopped first), {lost} lost"
    )  # fmt: skip
    return {
        **key,
        "not_run": not_run,
        "runs": len(docs),
        "failing_runs": len(failing),
        "forbidden_runs": sum(d["verdict"] == "fail" for d in docs),
        "aborted_runs": sum(d["verdict"] == "aborted" for d in docs),
        # runs that recorded no outcome, or an actor of them none: nothing to count them by
        "no_evidence_runs": sum(d["verdict"] == "no-evidence" for d in docs),
        "run_failure_rate": len(failing) / len(docs) if docs else None,
        "run_failure_rate_wilson95": list(wilson(len(failing), len(docs))) if docs else None,
        "attempts": attempts,
        "failure_rate_per_attempt": len(failing) / attempts if attempts else None,
        "failure_rate_per_attempt_wilson95": (
            list(wilson(len(failing), attempts)) if attempts else None
        ),
        # rule of three: no failure in N attempts bounds the rate a attempt by 3/N at 95%
        "rate_upper_bound_95": 3 / attempts if not failing and attempts else None,
        "first_failure_s": quartiles([d["first_failure_s"] for d in failing]),
        "attempts_to_first_failure": quartiles([float(d["attempts"]) for d in failing]),
        "outcomes": outcomes,
        "grades": grades,
        "run_s": sum(r.get("run_s", 0.0) for r in runs),
        "retried": sum(r["attempt"] > 1 or r.get("scheduler_retries", 0) > 0 for r in runs),
        "lost": lost,
        "skipped": skipped,
    }
