"""Time to first failure (the first region_conflict) of genode-race racy and quickfix under
each perturbation strategy beside `none`, in one run, for --pin same and --pin spread.

    python -m bench.perturb_ttff [--trials 10] [--timeout 10] [--out PATH]

Each trial is one run with --max-failures 1 --duration TIMEOUT (it stops at its first
conflict) and its own seed; trial k uses the same seed under every strategy. Strategies run
with recording off; one extra row, `none, record on`, shows what recording costs in time to
first failure (recording only: no trace is written, since writing one takes seconds and
would only lengthen the bench). Trials go round-robin over the strategies so that a drift
of the machine weighs on all alike. For each setting: how many trials found a conflict
within the timeout, the median time to it (a trial that found none counts as longer than
the timeout), the spread (min/max) of those that found one, and the involuntary context
switches achieved (ctx_switches of the result document: the actors' own, counted from their
start, so start-up is included).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time

from rich.console import Console
from rich.table import Table

from bench import result
from scenarios.genode_race import SCENARIO
from testbed.harness.run import RunOptions, run

VARIANTS = ("racy", "quickfix")
PINS = ("same", "spread")
# row label -> (perturb, hogs, record)
STRATEGIES = {
    "none": ("none", 0, False),
    "yield:0.1": ("yield:0.1", 0, False),
    "yield:0.5": ("yield:0.5", 0, False),
    "delay:20:0.1": ("delay:20:0.1", 0, False),
    "delay:100:0.05": ("delay:100:0.05", 0, False),
    "pct:3": ("pct:3", 0, False),
    "pct:5": ("pct:5", 0, False),
    "none, hogs 2": ("none", 2, False),
    "none, record on": ("none", 0, True),
}
CONFIG = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}


def summarize(docs: list[dict], timeout: float) -> dict:
    firsts = [d["first_failure_s"] for d in docs]
    found = [f for f in firsts if f is not None]
    censored = sorted(math.inf if f is None else f for f in firsts)
    median = statistics.median(censored)
    invol = [d["ctx_switches"]["involuntary"] for d in docs]
    invol_rate = [d["ctx_switches"]["involuntary"] / d["elapsed_s"] for d in docs]
    detected = sorted({d["detected_at"].get("region_conflict", "") for d in docs} - {""})
    return {
        "trials": len(docs),
        "found": len(found),
        "aborted": sum(d["exit_code"] == 3 for d in docs),
        "median_first_failure_s": None if math.isinf(median) else median,
        "min_first_failure_s": min(found) if found else None,
        "max_first_failure_s": max(found) if found else None,
        "first_failure_s": firsts,
        "creations_before_first": statistics.median(d["attempts"] for d in docs),
        "involuntary_ctx_switches": statistics.median(invol),
        "involuntary_ctx_switches_per_s": statistics.median(invol_rate),
        "detected_at": detected,
        "seeds": [d["seed"] for d in docs],
    }


def _ms(s: float | None) -> str:
    return "-" if s is None else f"{s * 1000:.1f}" if s < 10 else f"{s * 1000:,.0f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=10, help="trials (seeds) a setting")
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds a trial may run")
    ap.add_argument("--out", default="bench/results/perturb_ttff.json")
    args = ap.parse_args(argv)
    console = Console(stderr=True, emoji=False)
    started = time.monotonic()
    settings = [(p, v, s) for p in PINS for v in VARIANTS for s in STRATEGIES]
    docs: dict[tuple[str, str, str], list[dict]] = {k: [] for k in settings}
    with tempfile.TemporaryDirectory(prefix="perturb_ttff.") as traces:
        for t in range(args.trials):
            for pin, variant, label in settings:
                strategy, hogs, record = STRATEGIES[label]
                doc = run(
                    RunOptions(
                        SCENARIO, variant, CONFIG, seed=t + 1, duration_s=args.timeout,
                        pin=pin, max_failures=1, record=record, perturb=strategy, hogs=hogs,
                        trace_dir=traces, max_traces=0,
                    )
                )  # fmt: skip
                docs[(pin, variant, label)].append(doc)
                ff = doc["first_failure_s"]
                console.print(
                    f"[{time.monotonic() - started:5.0f} s] trial {t + 1}/{args.trials} "
                    f"pin={pin} {variant} {label}: "
                    + ("no conflict" if ff is None else f"first conflict {ff * 1000:.1f} ms")
                    + f", {doc['ctx_switches']['involuntary']} involuntary switches"
                    + (f" ({doc['verdict']}: {'; '.join(doc['reasons'])})"
                       if doc["exit_code"] == 3 else "")
                )  # fmt: skip

    rows = [
        {"pin": pin, "variant": variant, "strategy": label,
         "perturb": STRATEGIES[label][0], "hogs": STRATEGIES[label][1],
         "record": STRATEGIES[label][2], **summarize(docs[(pin, variant, label)], args.timeout)}
        for pin, variant, label in settings
    ]  # fmt: skip

    out = Console(width=max(Console().width, 120), emoji=False)
    for pin in PINS:
        table = Table(
            title=f"time to first region_conflict, pin {pin}: median \\[min-max] ms, "
            f"found / trials ({args.trials} trials, timeout {args.timeout:g} s)"
        )
        table.add_column("strategy")
        for variant in VARIANTS:
            table.add_column(f"{variant} ms", justify="right")
            table.add_column("found", justify="right")
            table.add_column("invol", justify="right")
        for label in STRATEGIES:
            cells = []
            for variant in VARIANTS:
                r = next(
                    r for r in rows
                    if (r["pin"], r["variant"], r["strategy"]) == (pin, variant, label)
                )  # fmt: skip
                med = r["median_first_failure_s"]
                cells += [
                    (f">{args.timeout * 1000:,.0f}" if med is None else _ms(med))
                    + (f" \\[{_ms(r['min_first_failure_s'])}-{_ms(r['max_first_failure_s'])}]"
                       if r["found"] else ""),
                    f"{r['found']}/{r['trials']}",
                    f"{r['involuntary_ctx_switches']:,.0f}",
                ]  # fmt: skip
            table.add_row(label, *cells)
        out.print(table)
    bench_s = time.monotonic() - started
    out.print(
        "median: trials without a conflict count as longer than the timeout; "
        "\\[min-max] over the trials that found one; invol: median involuntary context switches "
        f"of the actors, counted from their start (start-up included). bench took {bench_s:.0f} s"
    )
    doc = {
        "rows": rows,
        "trials": args.trials,
        "timeout_s": args.timeout,
        "config": CONFIG,
        "bench_s": bench_s,
    }
    result.write(args.out, doc, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
