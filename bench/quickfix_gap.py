"""Where the reporter's quick fix still fails: its gap (alloc_lock released, _context not
yet set) under each CPU placement and number of creators, with no injected delay.

    python -m bench.quickfix_gap [--trials 3] [--seconds 2] [--out PATH]

For each setting: how many trials saw a conflict, the median time to the first one, and
conflicts per million creations.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from rich.console import Console
from rich.table import Table

from bench import result
from scenarios.genode_race import SCENARIO
from testbed.harness.run import RunOptions, run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--variant", default="quickfix")
    ap.add_argument("--out", default="bench/results/quickfix_gap.json")
    args = ap.parse_args(argv)
    console = Console(stderr=True)
    rows = []
    for pin in ("same", "spread", "none"):
        for creators in (2, 4):
            cfg = {"pds": 1, "creators": creators, "children": 4, "stack_size": 16 * 1024}
            console.print(f"{args.variant} pin={pin} creators={creators} ...")
            docs = [
                run(
                    RunOptions(
                        SCENARIO, args.variant, cfg, seed=t, duration_s=args.seconds, pin=pin
                    )
                )
                for t in range(args.trials)
            ]
            firsts = [d["first_failure_s"] for d in docs if d["first_failure_s"] is not None]
            conflicts = sum(d["outcomes"]["region_conflict"] for d in docs)
            attempts = sum(d["attempts"] for d in docs)
            rows.append(
                {
                    "pin": pin,
                    "creators": creators,
                    "trials": args.trials,
                    "trials_with_conflict": len(firsts),
                    "median_first_conflict_s": statistics.median(firsts) if firsts else None,
                    "conflicts_per_million": conflicts / attempts * 1e6 if attempts else 0.0,
                    "creations_per_s": statistics.median(d["creations_per_s"] for d in docs),
                    "involuntary_ctx_switches": statistics.median(
                        d["ctx_switches"]["involuntary"] for d in docs
                    ),
                }
            )
    table = Table(
        title=f"{args.variant}: the gap under real preemption ({args.trials} x {args.seconds:g} s)"
    )
    for col in (
        "pin",
        "creators",
        "trials with conflict",
        "median first",
        "per million",
        "creations/s",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        first = r["median_first_conflict_s"]
        table.add_row(
            r["pin"], str(r["creators"]), f"{r['trials_with_conflict']}/{r['trials']}",
            "-" if first is None else f"{first * 1000:.1f} ms",
            f"{r['conflicts_per_million']:,.0f}", f"{r['creations_per_s']:,.0f}",
        )  # fmt: skip
    out = Console()
    out.print(table)
    result.write(args.out, rows, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
