"""Kill rate: every mutant of genode-mutants under each strategy (none, yield, delay, pct,
auto), with named and with access points, pinned to one CPU (`same`) and across CPUs
(`spread`); beside it, in the same run, the same model run by threads of one process (the
baseline a user has without the testbed) and frontrun (a peer: DPOR over a threads version,
if installed).

    python -m bench.kill_rate [--trials 3] [--timeout 10] [--mutants a,b] [--strategies ...]
                              [--points named,access] [--pins same,spread]
                              [--frontrun-budget 20] [--out PATH]

A trial is one run with --max-failures 1 --duration TIMEOUT and its own seed (trial k: seed
k + 1 in every setting), recording off; a mutant is killed in a trial if a FORBIDDEN outcome
(region_conflict, deadlock) shows within the timeout. Per mutant and setting: trials that
killed it, the median time to the kill (trials without one count as longer than the
timeout) and the min-max of the kills. Trials go round-robin over the settings so that a
drift of the machine weighs on all alike. frontrun runs once a mutant (its DPOR is
systematic, not seeded) with a time budget.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time

from rich.console import Console
from rich.table import Table

from bench import genode_threads, result
from kernel_model.genode import mutants
from scenarios.genode_mutants import SCENARIO
from testbed.harness.run import RunOptions, run

STRATEGIES = ("none", "yield:0.1", "delay:20:0.1", "pct:3", "auto")
POINTS = ("named", "access")
PINS = ("same", "spread")
CONFIG = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
FORBIDDEN = ("region_conflict", "deadlock")


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


def _list(text: str, allowed: tuple[str, ...] | list[str], what: str) -> list[str]:
    items = [x for x in text.split(",") if x]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise SystemExit(f"--{what} {text!r}: expected a comma-separated subset of {allowed}")
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=3, help="trials (seeds) a setting")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds a trial may run")
    ap.add_argument("--mutants", default=",".join(mutants.MUTANTS))
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--points", default=",".join(POINTS))
    ap.add_argument("--pins", default=",".join(PINS))
    ap.add_argument(
        "--frontrun-budget", type=float, default=20.0, help="seconds frontrun may explore a "
        "mutant (0: skip frontrun)"
    )  # fmt: skip
    ap.add_argument("--out", default="bench/results/kill_rate.json")
    args = ap.parse_args(argv)
    names = _list(args.mutants, list(mutants.MUTANTS), "mutants")
    strategies = _list(args.strategies, STRATEGIES, "strategies")
    points = _list(args.points, POINTS, "points")
    pins = _list(args.pins, PINS, "pins")
    if not 1 <= args.trials <= 1000 or not 0 < args.timeout <= 3600:
        raise SystemExit("--trials 1..1000, --timeout 0 < s <= 3600")
    console = Console(stderr=True, emoji=False)
    started = time.monotonic()
    settings = [(m, s, p, pin) for m in names for pin in pins for s in strategies for p in points]
    firsts: dict[tuple, list[float | None]] = {k: [] for k in settings}
    threads: dict[str, list[float | None]] = {m: [] for m in names}
    for t in range(args.trials):
        for mutant, strategy, pts, pin in settings:
            doc = run(
                RunOptions(
                    SCENARIO, mutant, CONFIG, seed=t + 1, duration_s=args.timeout, pin=pin,
                    max_failures=1, perturb=strategy, points=pts, max_traces=0,
                    lock_timeout_s=max(10.0, args.timeout),
                )
            )  # fmt: skip
            ff = _killed_at(doc)
            firsts[(mutant, strategy, pts, pin)].append(ff)
            console.print(
                f"[{time.monotonic() - started:5.0f} s] trial {t + 1}/{args.trials} {mutant} "
                f"{strategy} {pts} pin={pin}: " + ("-" if ff is None else _t(ff))
                + (f" ({'; '.join(doc['reasons'])})" if doc["exit_code"] == 3 else "")
            )  # fmt: skip
        for mutant in names:
            ff = genode_threads.stress(mutant, args.timeout, seed=t + 1)["first_failure_s"]
            threads[mutant].append(ff)
            console.print(f"  threads baseline {mutant}: " + ("-" if ff is None else _t(ff)))
    peer: dict[str, dict] = {}
    if args.frontrun_budget > 0:
        for variant in [*names, "fixed"]:  # and a correct one: what it reports there
            peer[variant] = genode_threads.frontrun_explore(variant, args.frontrun_budget, 0)
            console.print(f"  frontrun {variant}: {peer[variant]}")
            if "not installed" in peer[variant].get("error", ""):
                break

    rows = [
        {"mutant": m, "strategy": s, "points": p, "pin": pin, **summarize(firsts[(m, s, p, pin)])}
        for m, s, p, pin in settings
    ]
    baseline = {m: summarize(threads[m]) for m in names}
    out = Console(width=max(Console().width, 160), emoji=False)
    for pin in pins:
        table = Table(
            title=f"kill rate, pin {pin}: killed/trials and median time to the kill "
            f"({args.trials} trials, timeout {args.timeout:g} s)"
        )
        table.add_column("mutant")
        for s in strategies:
            for p in points:
                table.add_column(f"{s} {p}", justify="right")
        table.add_column("threads", justify="right")
        table.add_column("frontrun", justify="right")
        for m in names:
            cells = [
                _cell(next(r for r in rows if (r["mutant"], r["strategy"], r["points"],
                                                r["pin"]) == (m, s, p, pin)), args.timeout)
                for s in strategies for p in points
            ]  # fmt: skip
            fr = peer.get(m, {})
            fr_cell = (
                "-" if not fr else fr.get("error", "")[:20] if "error" in fr
                else f"{'found' if fr['found'] else 'not found'} {_t(fr['time_s'])}"
            )  # fmt: skip
            table.add_row(m, *cells, _cell(baseline[m], args.timeout), fr_cell)
        out.print(table)
    if "fixed" in peer:
        out.print(f"frontrun on fixed (correct): {peer['fixed']}")
    bench_s = time.monotonic() - started
    out.print(
        "cells: killed/trials, median time to the kill (trials without a kill count as longer "
        "than the timeout); threads: the model run by threads of one process; frontrun: DPOR "
        f"over two threads, one round of 2 creations each. bench took {bench_s:.0f} s"
    )
    doc = {
        "rows": rows,
        "threads_baseline": baseline,
        "frontrun": peer,
        "trials": args.trials,
        "timeout_s": args.timeout,
        "frontrun_budget_s": args.frontrun_budget,
        "config": CONFIG,
        "bench_s": bench_s,
    }
    result.write(args.out, doc, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
