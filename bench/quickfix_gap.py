"""Where the reporter's quick fix still fails: its gap (alloc_lock released, _context not
yet set) under each CPU placement and number of creators, with no injected delay.

    testbed bench quickfix_gap [--profile P] [--trials 3] [--seconds 2] [--variant quickfix]

For each setting: how many trials saw a conflict, the median time to the first one, and
conflicts per million creations.
"""

from __future__ import annotations

import statistics
import sys

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.harness.run import RunOptions, run
from testbed.scenarios.genode_race import SCENARIO

PINS = ("same", "spread", "none")


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost, every setting once a trial, so drift weighs on all alike."""
    settings = [(pin, creators) for pin in PINS for creators in p["creators"]]
    docs: dict[tuple[str, int], list[dict]] = {k: [] for k in settings}
    for t in range(p.trials):
        for pin, creators in settings:
            cfg = {"pds": 1, "creators": creators, "children": 4, "stack_size": 16 * 1024}
            docs[(pin, creators)].append(
                run(RunOptions(SCENARIO, p.variant, cfg, seed=t, duration_s=p.seconds, pin=pin))
            )
        log(f"trial {t + 1}/{p.trials} done")
    rows = []
    for (pin, creators), ds in docs.items():
        firsts = [d["first_failure_s"] for d in ds if d["first_failure_s"] is not None]
        conflicts = sum(d["outcomes"]["region_conflict"] for d in ds)
        attempts = sum(d["attempts"] for d in ds)
        rows.append(
            {
                "pin": pin,
                "creators": creators,
                "trials": p.trials,
                "trials_with_conflict": len(firsts),
                "median_first_conflict_s": statistics.median(firsts) if firsts else None,
                "conflicts_per_million": conflicts / attempts * 1e6 if attempts else 0.0,
                "creations_per_s": statistics.median(d["creations_per_s"] for d in ds),
                "involuntary_ctx_switches": statistics.median(
                    d["ctx_switches"]["involuntary"] for d in ds
                ),
            }
        )
    cells = []
    for r in rows:
        first = r["median_first_conflict_s"]
        cells.append([
            r["pin"], str(r["creators"]), f"{r['trials_with_conflict']}/{r['trials']}",
            "-" if first is None else f"{first * 1000:.1f} ms",
            f"{r['conflicts_per_million']:,.0f}", f"{r['creations_per_s']:,.0f}",
        ])  # fmt: skip
    table = Table(
        f"{p.variant}: the gap under real preemption ({p.trials} x {p.seconds:g} s)",
        ["pin", "creators", "trials with conflict", "median first", "per million", "creations/s"],
        cells,
    )
    return {"rows": rows}, [table]


BENCH = Bench(
    "quickfix_gap",
    "where the reporter's quick fix still fails: its gap under each CPU placement",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 0.5, "creators": [2]},
        "default": {"trials": 3, "seconds": 2.0, "creators": [2, 4]},
        "tough": {"trials": 10, "seconds": 5.0, "creators": [2, 4]},
    },
    variants=tuple(v for v in SCENARIO.variants if v == "quickfix")
    + tuple(v for v in SCENARIO.variants if v != "quickfix"),
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
