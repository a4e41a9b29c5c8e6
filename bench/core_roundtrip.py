"""Issue 2's figures, in one run: the core request round trip beside a bare semaphore
ping-pong (ratio), blocking and spinning replies, on one CPU and across CPUs; and thread
creations a second for each allocator variant.

    python -m bench.core_roundtrip [--trials 3] [--calls 20000] [--out PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from rich.console import Console
from rich.table import Table

from bench import result
from bench.pingpong import round_trip_us
from scenarios.core_roundtrip import SCENARIO as ROUNDTRIP
from scenarios.genode_race import SCENARIO as RACE
from testbed.harness.run import RunOptions, run

SPINS = {"blocking": 0.0, "spin 50us": 50.0}


def core_round_trip_us(calls: int, pin: str, spin_us: float) -> float:
    doc = run(
        RunOptions(
            ROUNDTRIP, "null", {"clients": 1, "calls": calls}, rounds=1, pin=pin,
            reply_spin_us=spin_us, core_spin_us=spin_us,
        )
    )  # fmt: skip
    assert doc["verdict"] == "pass", doc["reasons"]
    return doc["elapsed_s"] / doc["attempts"] * 1e6


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=3, help="trials a figure; the median is kept")
    ap.add_argument("--calls", type=int, default=20000, help="round trips a trial")
    ap.add_argument("--seconds", type=float, default=2.0, help="seconds a creations/s run")
    ap.add_argument("--out", default="bench/results/core_roundtrip.json")
    args = ap.parse_args(argv)
    console = Console(stderr=True)

    def median(f, *a) -> dict:
        xs = [f(*a) for _ in range(args.trials)]
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}

    rt: dict = {}
    for pin in ("same", "spread"):
        console.print(f"round trips, pin {pin} ...")
        rt[pin] = {"raw_pingpong_us": median(round_trip_us, args.calls, pin)}
        for label, spin in SPINS.items():
            rt[pin][label] = median(core_round_trip_us, args.calls, pin, spin)
            rt[pin][label]["ratio_to_raw"] = (
                rt[pin][label]["median"] / rt[pin]["raw_pingpong_us"]["median"]
            )

    creations: dict = {}
    for variant in RACE.variants:
        console.print(f"creations/s, {variant} ...")
        cfg = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
        docs = [
            run(RunOptions(RACE, variant, cfg, duration_s=args.seconds, seed=1))
            for _ in range(args.trials)
        ]
        creations[variant] = statistics.median(d["creations_per_s"] for d in docs)

    table = Table(title="core request round trip (median of trials)")
    for col in ("pin", "raw ping-pong", *SPINS, *(f"{s} / raw" for s in SPINS)):
        table.add_column(col, justify="right")
    for pin, r in rt.items():
        table.add_row(
            pin,
            f"{r['raw_pingpong_us']['median']:.2f} us",
            *(f"{r[s]['median']:.2f} us" for s in SPINS),
            *(f"{r[s]['ratio_to_raw']:.2f}x" for s in SPINS),
        )
    out = Console()
    out.print(table)
    t2 = Table(title="genode-race creations/s (2 creators, 1 PD, pin none)")
    for v in creations:
        t2.add_column(v, justify="right")
    t2.add_row(*(f"{c:,.0f}" for c in creations.values()))
    out.print(t2)

    doc = {
        "round_trip": rt,
        "creations_per_s": creations,
        "trials": args.trials,
        "calls": args.calls,
    }
    result.write(args.out, doc, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
