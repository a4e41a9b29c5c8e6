"""`testbed explore` on genode-race, 2 creators x 1 child, at K preemptions: schedules, pruned,
schedules a second (processes reused) against a run a schedule (a replay starts fresh
processes) and the bare semaphore ping-pong a step costs at least, all in one run; then
frontrun on the threads version of the same model (bench/explore_threads.py), if installed.

    python -m bench.explore [--preemptions 2] [--fresh 5] [--out PATH]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import pingpong, result
from scenarios.genode_race import SCENARIO
from testbed.explorer import ExploreOptions, explore
from testbed.harness.replay import replay
from testbed.trace.trace import Trace

CONFIG = {"pds": 1, "creators": 2, "children": 1, "stack_size": 16 * 1024}
VARIANTS = ("fixed", "bitalloc", "racy", "quickfix")


def _explore(variant: str, k: int, reduce: bool, tmp: str) -> dict:
    hunt = ["region_conflict"] if variant in ("racy", "quickfix") else []
    opts = ExploreOptions(
        SCENARIO, variant, dict(CONFIG), ref="genode-race", preemptions=k, reduce=reduce,
        require=hunt, seed=1, trace_dir=tmp,
    )  # fmt: skip
    t = time.perf_counter()
    doc = explore(opts)
    doc["total_s"] = time.perf_counter() - t
    return doc


def _frontrun(k: int, console: Console) -> list[dict]:
    exe = shutil.which("frontrun", path=str(Path(sys.executable).parent)) or shutil.which(
        "frontrun"
    )
    if exe is None:
        console.print("frontrun not installed (pip install frontrun): no comparison")
        return []
    out = subprocess.run(
        [exe, "python", "-m", "bench.explore_threads", "--preemptions", str(k)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--preemptions", type=int, default=2)
    ap.add_argument("--fresh", type=int, default=5, help="runs with fresh processes, timed")
    ap.add_argument("--out", default=f"bench/results/explore-{time.strftime('%Y%m%d-%H%M%S')}.json")
    args = ap.parse_args(argv)
    console = Console(stderr=True, width=160)
    k = args.preemptions
    pingpong_us = pingpong.round_trip_us(5000, "none")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            reduced = _explore(variant, k, True, tmp)
            plain = _explore(variant, k, False, tmp)
            row = {
                "variant": variant,
                "verdict": reduced["verdict"],
                "complete": reduced["complete"],
                "schedules": reduced["schedules"],
                "schedules_unreduced": plain["schedules"],
                "complete_unreduced": plain["complete"],
                "pruned": reduced["pruned"],
                "fraction_saved": 1 - reduced["schedules"] / plain["schedules"],
                "elapsed_s": reduced["elapsed_s"],
                "total_s": reduced["total_s"],
                "elapsed_unreduced_s": plain["elapsed_s"],
                "schedules_per_s": reduced["schedules_per_s"],
                "us_a_step": 1e6 * reduced["elapsed_s"] / max(1, reduced["steps"]),
            }
            if reduced["failures"]:
                trace = Trace.load(reduced["failures"][0]["trace_file"])
                row["found_in"] = reduced["failures"][0]["schedule"]
                t = time.perf_counter()
                docs = [replay(trace) for _ in range(args.fresh)]
                row["fresh_s_a_schedule"] = (time.perf_counter() - t) / args.fresh
                row["replays_reproduced"] = sum(d["replay"]["reproduced"] for d in docs)
                row["replays"] = args.fresh
            rows.append(row)
            console.print(row)
    fresh = [r["fresh_s_a_schedule"] for r in rows if "fresh_s_a_schedule" in r]
    fresh_s = sum(fresh) / len(fresh) if fresh else None
    front = _frontrun(k, console)

    table = Table(title=f"testbed explore genode-race, 2 creators x 1 child, K={k}")
    for col in ("variant", "verdict", "schedules", "no reduction", "saved", "pruned", "s",
                "schedules/s", "us a step", "found in", "replays"):  # fmt: skip
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["variant"], r["verdict"], f"{r['schedules']:,}", f"{r['schedules_unreduced']:,}",
            f"{r['fraction_saved']:.0%}", f"{r['pruned']:,}", f"{r['elapsed_s']:.2f}",
            f"{r['schedules_per_s']:,.0f}", f"{r['us_a_step']:.0f}",
            str(r.get("found_in", "-")),
            f"{r['replays_reproduced']}/{r['replays']}" if "replays" in r else "-",
        )  # fmt: skip
    console.print(table)
    console.print(f"bare semaphore ping-pong round trip: {pingpong_us:.1f} us")
    if fresh_s is not None:
        reuse = sum(r["schedules_per_s"] for r in rows) / len(rows)
        console.print(
            f"a run a schedule (fresh processes, replay): {fresh_s * 1e3:.0f} ms; reused "
            f"processes: {1e3 / reuse:.1f} ms ({fresh_s * reuse:.0f}x)"
        )
    for f in front:
        console.print(
            f"frontrun {f['variant']}: {f['executions']} executions, {f['seconds']:.2f} s, "
            f"{'found' if f['found'] else 'no failure'}"
        )
    result.write(
        args.out,
        {"preemptions": k, "config": CONFIG, "pingpong_us": pingpong_us, "rows": rows,
         "fresh_s_a_schedule": fresh_s, "frontrun": front},
        console,
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
