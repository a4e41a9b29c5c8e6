"""How often a recorded failure replays: record a trace of the first failure in several
settings (variant, CPU placement, seed), replay each several times, count reproductions.
The target is 99 of 100.

    python -m bench.replay_rate [--seeds 5] [--replays 20] [--out PATH]
"""

from __future__ import annotations

import argparse
import sys
import tempfile

from rich.console import Console
from rich.table import Table

from bench import result
from scenarios.genode_race import SCENARIO
from testbed.harness.replay import replay
from testbed.harness.run import RunOptions, run
from testbed.trace.trace import Trace

SETTINGS = [
    ("racy", "same"),
    ("racy", "spread"),
    ("quickfix", "same"),
    ("quickfix", "none"),
    ("quickfix", "spread"),
]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=5, help="traces recorded a setting")
    ap.add_argument("--replays", type=int, default=20, help="replays a trace")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds a recording may take")
    ap.add_argument(
        "--ring-events", type=int, default=1 << 18, help="events each actor's ring holds"
    )
    ap.add_argument("--out", default="bench/results/replay_rate.json")
    args = ap.parse_args(argv)
    console = Console(stderr=True)
    cfg = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant, pin in SETTINGS:
            row = {"variant": variant, "pin": pin, "traces": 0, "incomplete": 0, "none": 0,
                   "replays": 0, "reproduced": 0, "events": []}  # fmt: skip
            for seed in range(args.seeds):
                doc = run(
                    RunOptions(SCENARIO, variant, cfg, seed=seed, duration_s=args.timeout, pin=pin,
                               record=True, max_failures=1, max_traces=1, trace_dir=tmp,
                               ring_events=args.ring_events)
                )  # fmt: skip
                if not doc["trace_files"]:
                    row["none"] += 1
                    continue
                trace = Trace.load(doc["trace_files"][0])
                if not trace.complete:
                    row["incomplete"] += 1
                    continue
                row["traces"] += 1
                row["events"].append(len(trace.events))
                for _ in range(args.replays):
                    row["replays"] += 1
                    row["reproduced"] += replay(trace)["replay"]["reproduced"]
                console.print(f"{variant} {pin} seed {seed}: {len(trace.events)} events, "
                              f"{row['reproduced']}/{row['replays']} so far")  # fmt: skip
            rows.append(row)
    table = Table(
        title=f"replays of recorded first failures ({args.seeds} seeds x {args.replays} replays)"
    )
    for col in ("variant", "pin", "complete traces", "incomplete", "events (median)", "reproduced"):
        table.add_column(col, justify="right")
    for r in rows:
        ev = sorted(r["events"])
        table.add_row(
            r["variant"], r["pin"], str(r["traces"]), str(r["incomplete"]),
            str(ev[len(ev) // 2]) if ev else "-", f"{r['reproduced']}/{r['replays']}",
        )  # fmt: skip
    total, ok = sum(r["replays"] for r in rows), sum(r["reproduced"] for r in rows)
    out = Console()
    out.print(table)
    out.print(f"all: {ok} of {total} replays reproduced the recorded outcome")
    result.write(args.out, {"rows": rows, "replays": total, "reproduced": ok}, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
