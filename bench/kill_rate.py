"""Kill rate: every mutant of genode-mutants under each strategy (none, yield, delay, pct,
auto), with named and with access points, pinned to one CPU (`same`) and across CPUs
(`spread`); beside it, in the same run, the same model run by threads of one process (the
baseline a user has without the testbed) and frontrun (a peer: DPOR over a threads version,
if installed).

    testbed bench kill_rate [--profile quick|default|tough] [--trials N] [--seconds TIMEOUT]
        [--variant MUTANT]

(quick: two mutants under auto with access points on one CPU; default: every mutant, none
and auto, both point levels and pinnings; tough: every strategy, and frontrun if installed;
`--variant MUTANT`: that mutant alone, with the profile's other settings.)
A trial is one run with --max-failures 1 --duration TIMEOUT and its own seed (trial k: seed
k + 1 in every setting), recording off; a mutant is killed in a trial if a FORBIDDEN outcome
(region_conflict, deadlock) shows within the timeout. Per mutant and setting: trials that
killed it, the median time to the kill (trials without one count as longer than the
timeout) and the min-max of the kills. Trials go round-robin over the settings so that a
drift of the machine weighs on all alike. frontrun runs once a mutant (its DPOR is
systematic, not seeded) with a time budget.
"""

from __future__ import annotations

import math
import statistics
import sys
import time

from kernel_model.genode import mutants
from testbed.bench import genode_threads, harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.harness.run import RunOptions, run
from testbed.scenarios.genode_mutants import SCENARIO

STRATEGIES = ("none", "yield:0.1", "delay:20:0.1", "pct:3", "auto")
POINTS = ("named", "access")
PINS = ("same", "spread")
CONFIG = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
FORBIDDEN = ("region_conflict", "deadlock")
ALL = "all"  # --variant: the profile's mutants (the default), or one mutant


def _killed_at(doc: dict) -> float | None:
    if doc["exit_code"] == 3 or not any(doc["outcomes"].get(o) for o in FORBIDDEN):
        return None
    return doc["first_failure_s"]


def summarize(firsts: list[float | None]) -> dict:
    found = [f for f in firsts if f is not None]
    median = statistics.median(sorted(math.inf if f is None else f for f in firsts))
    return {
        "trials": len(firsts),
        "killed": len(found),
        "median_s": None if math.isinf(median) else median,
        "min_s": min(found) if found else None,
        "max_s": max(found) if found else None,
        "first_failure_s": firsts,
    }


def _cell(s: dict, timeout: float) -> str:
    if not s["killed"]:
        return f"0/{s['trials']}"
    med = f">{timeout:g}s" if s["median_s"] is None else _t(s["median_s"])
    return f"{s['killed']}/{s['trials']} {med}"


def _t(s: float) -> str:
    return f"{s * 1000:.0f}ms" if s < 1 else f"{s:.1f}s"


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost, every setting once a trial, so drift weighs on all alike; the
    time budget of a trial is --seconds."""
    names = list(p["mutants"]) if p.variant in (None, ALL) else [p.variant]
    strategies = list(p["strategies"])
    points, pins, timeout = list(p["points"]), list(p["pins"]), p.seconds
    started = time.monotonic()
    settings = [(m, s, pt, pin) for m in names for pin in pins for s in strategies for pt in points]
    firsts: dict[tuple, list[float | None]] = {k: [] for k in settings}
    threads: dict[str, list[float | None]] = {m: [] for m in names}
    for t in range(p.trials):
        for mutant, strategy, pts, pin in settings:
            doc = run(
                RunOptions(
                    SCENARIO, mutant, CONFIG, seed=t + 1, duration_s=timeout, pin=pin,
                    max_failures=1, perturb=strategy, point_level=pts, max_traces=0,
                    lock_timeout_s=max(10.0, timeout),
                )
            )  # fmt: skip
            ff = _killed_at(doc)
            firsts[(mutant, strategy, pts, pin)].append(ff)
            log(
                f"[{time.monotonic() - started:5.0f} s] trial {t + 1}/{p.trials} {mutant} "
                f"{strategy} {pts} pin={pin}: " + ("-" if ff is None else _t(ff))
                + (f" ({'; '.join(doc['reasons'])})" if doc["exit_code"] == 3 else "")
            )  # fmt: skip
        for mutant in names:
            ff = genode_threads.stress(mutant, timeout, seed=t + 1)["first_failure_s"]
            threads[mutant].append(ff)
            log(f"  threads baseline {mutant}: " + ("-" if ff is None else _t(ff)))
    peer: dict[str, dict] = {}
    if p["frontrun_budget"] > 0:
        for variant in [*names, "fixed"]:  # and a correct one: what it reports there
            peer[variant] = genode_threads.frontrun_explore(variant, p["frontrun_budget"], 0)
            log(f"  frontrun {variant}: {peer[variant]}")
            if "not installed" in peer[variant].get("error", ""):
                break
    rows = [
        {"mutant": m, "strategy": s, "points": pt, "pin": pin, **summarize(firsts[(m, s, pt, pin)])}
        for m, s, pt, pin in settings
    ]
    baseline = {m: summarize(threads[m]) for m in names}
    tables = []
    for pin in pins:
        body = []
        for m in names:
            cells = [
                _cell(next(r for r in rows if (r["mutant"], r["strategy"], r["points"],
                                                r["pin"]) == (m, s, pt, pin)), timeout)
                for s in strategies for pt in points
            ]  # fmt: skip
            fr = peer.get(m, {})
            fr_cell = (
                "-" if not fr else fr.get("error", "")[:20] if "error" in fr
                else f"{'found' if fr['found'] else 'not found'} {_t(fr['time_s'])}"
            )  # fmt: skip
            body.append([m, *cells, _cell(baseline[m], timeout), fr_cell])
        tables.append(
            Table(
                f"kill rate, pin {pin}: killed/trials and median time to the kill "
                f"({p.trials} trials, timeout {timeout:g} s)",
                [
                    "mutant",
                    *(f"{s} {pt}" for s in strategies for pt in points),
                    "threads",
                    "frontrun",
                ],
                body,
                note="cells: killed/trials, median time to the kill (trials without a kill count "
                "as longer than the timeout); threads: the model run by threads of one process; "
                "frontrun: DPOR over two threads, one round of 2 creations each"
                + (f"; frontrun on fixed (correct): {peer['fixed']}" if "fixed" in peer else ""),
            )
        )
    doc = {
        "rows": rows,
        "threads_baseline": baseline,
        "frontrun": peer,
        "timeout_s": timeout,
        "frontrun_budget_s": p["frontrun_budget"],
        "config": CONFIG,
        "bench_s": time.monotonic() - started,
    }
    return doc, tables


BENCH = Bench(
    "kill_rate",
    "every genode-mutants mutant under each strategy, named and access points, both pinnings",
    measure,
    profiles={
        "quick": {
            "trials": 1,
            "seconds": 2.0,
            "mutants": ("early_unlock", "lock_inversion"),
            "strategies": ("auto",),
            "points": ("access",),
            "pins": ("same",),
            "frontrun_budget": 0.0,
        },
        "default": {
            "trials": 3,
            "seconds": 10.0,
            "mutants": tuple(mutants.MUTANTS),
            "strategies": ("none", "auto"),
            "points": POINTS,
            "pins": PINS,
            "frontrun_budget": 0.0,
        },
        "tough": {
            "trials": 5,
            "seconds": 10.0,
            "mutants": tuple(mutants.MUTANTS),
            "strategies": STRATEGIES,
            "points": POINTS,
            "pins": PINS,
            "frontrun_budget": 20.0,
        },
    },  # fmt: skip
    variants=(ALL, *mutants.MUTANTS),
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
