"""Time to first failure (the first region_conflict) of genode-race racy and quickfix under
each perturbation strategy beside `none`, in one run, for --pin same and --pin spread.

    testbed bench perturb_ttff [--profile P] [--trials 10] [--seconds TIMEOUT]

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

import math
import statistics
import sys
import tempfile

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.harness.run import RunOptions, run
from testbed.scenarios.genode_race import SCENARIO

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


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    timeout = p.seconds
    strategies = {k: STRATEGIES[k] for k in p["strategies"]}
    settings = [(pin, v, s) for pin in PINS for v in VARIANTS for s in strategies]
    docs: dict[tuple[str, str, str], list[dict]] = {k: [] for k in settings}
    with tempfile.TemporaryDirectory(prefix="perturb_ttff.") as traces:
        for t in range(p.trials):
            for pin, variant, label in settings:
                strategy, hogs, record = strategies[label]
                doc = run(
                    RunOptions(
                        SCENARIO, variant, CONFIG, seed=t + 1, duration_s=timeout,
                        pin=pin, max_failures=1, record=record, perturb=strategy, hogs=hogs,
                        trace_dir=traces, max_traces=0,
                    )
                )  # fmt: skip
                docs[(pin, variant, label)].append(doc)
            log(f"trial {t + 1}/{p.trials} done")
    rows = [
        {"pin": pin, "variant": variant, "strategy": label,
         "perturb": strategies[label][0], "hogs": strategies[label][1],
         "record": strategies[label][2], **summarize(docs[(pin, variant, label)], timeout)}
        for pin, variant, label in settings
    ]  # fmt: skip
    tables = []
    for pin in PINS:
        cells = []
        for label in strategies:
            row = [label]
            for variant in VARIANTS:
                r = next(
                    r for r in rows
                    if (r["pin"], r["variant"], r["strategy"]) == (pin, variant, label)
                )  # fmt: skip
                med = r["median_first_failure_s"]
                row += [
                    (f">{timeout * 1000:,.0f}" if med is None else _ms(med))
                    + (f" [{_ms(r['min_first_failure_s'])}-{_ms(r['max_first_failure_s'])}]"
                       if r["found"] else ""),
                    f"{r['found']}/{r['trials']}",
                    f"{r['involuntary_ctx_switches']:,.0f}",
                ]  # fmt: skip
            cells.append(row)
        tables.append(
            Table(
                f"time to first region_conflict, pin {pin}: median [min-max] ms, found / trials "
                f"({p.trials} trials, timeout {timeout:g} s)",
                ["strategy", *(c for v in VARIANTS for c in (f"{v} ms", "found", "invol"))],
                cells,
                "median: trials without a conflict count as longer than the timeout; [min-max] "
                "over the trials that found one; invol: median involuntary context switches of "
                "the actors, counted from their start (start-up included)",
            )
        )
    return {"rows": rows, "timeout_s": timeout, "config": CONFIG}, tables


BENCH = Bench(
    "perturb_ttff",
    "time to first failure of genode-race racy and quickfix under each perturbation strategy",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 1.0, "strategies": ["none", "pct:3"]},
        "default": {"trials": 10, "seconds": 10.0, "strategies": list(STRATEGIES)},
        "tough": {"trials": 30, "seconds": 10.0, "strategies": list(STRATEGIES)},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
