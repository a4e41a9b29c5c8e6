"""`testbed explore` on genode-race, 2 creators x 1 child, at K preemptions: schedules, pruned,
schedules a second (processes reused) against a run a schedule (a replay starts fresh
processes) and the bare semaphore ping-pong a step costs at least, all in one run; then
frontrun on the threads version of the same model (bench/explore_threads.py), if installed.

    testbed bench explore [--profile quick|default|tough] [--trials N] [--seconds S]

Knobs of a profile: `preemptions` (the bound K), `fresh` (replays with fresh processes,
timed, a variant that fails), `variants` (the genode-race variants explored). `trials`
repeats every exploration (variants interleaved a trial; times are medians, counts are
the first trial's, identical a trial since the search is seeded); `seconds` is the time
frontrun may take.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness, pingpong
from bench.harness import Bench, Log, Params, Table
from scenarios.genode_race import SCENARIO
from testbed.explorer import ExploreOptions, explore
from testbed.harness.replay import replay
from testbed.trace.trace import Trace

CONFIG = {"pds": 1, "creators": 2, "children": 1, "stack_size": 16 * 1024}
VARIANTS = ("fixed", "bitalloc", "racy", "quickfix")
PINGPONG_CALLS = 5000
TIMES = ("elapsed_s", "total_s", "elapsed_unreduced_s", "schedules_per_s", "us_a_step")


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


def _frontrun(k: int, timeout_s: float, log: Log) -> tuple[list[dict], str]:
    """frontrun's lines, one a variant, and a note when there is no comparison."""
    exe = shutil.which("frontrun", path=str(Path(sys.executable).parent)) or shutil.which(
        "frontrun"
    )
    if exe is None:
        return [], "frontrun not installed (pip install frontrun): no comparison"
    log(f"frontrun at K={k} ...")
    try:
        out = subprocess.run(
            [exe, "python", "-m", "bench.explore_threads", "--preemptions", str(k)],
            capture_output=True, text=True, timeout=timeout_s,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return [], f"frontrun took more than {timeout_s:g} s (--seconds): no comparison"
    front = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if not front:
        return [], f"frontrun printed no result (exit {out.returncode}): no comparison"
    return front, ""


def _one(variant: str, k: int, fresh: int, tmp: str) -> dict:
    """One trial of a variant: explored with and without reduction; a failure, replayed."""
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
        docs = [replay(trace) for _ in range(fresh)]
        row["fresh_s_a_schedule"] = (time.perf_counter() - t) / fresh
        row["replays_reproduced"] = sum(d["replay"]["reproduced"] for d in docs)
        row["replays"] = fresh
    return row


def _merge(trials: list[dict]) -> dict:
    """A variant's row over the trials: the first trial's counts, the median of the times,
    every replay summed."""
    row = dict(trials[0])
    for key in TIMES:
        row[key] = statistics.median(r[key] for r in trials)
    if "replays" in row:
        row["fresh_s_a_schedule"] = statistics.median(r["fresh_s_a_schedule"] for r in trials)
        row["replays_reproduced"] = sum(r["replays_reproduced"] for r in trials)
        row["replays"] = sum(r["replays"] for r in trials)
    row["trials"] = len(trials)
    return row


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost, every variant once a trial, so drift weighs on all alike."""
    k, fresh, variants = p["preemptions"], p["fresh"], list(p["variants"])
    per: dict[str, list[dict]] = {v: [] for v in variants}
    pings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in range(p.trials):
            pings.append(pingpong.round_trip_us(PINGPONG_CALLS, "none"))
            for variant in variants:
                r = _one(variant, k, fresh, tmp)
                per[variant].append(r)
                first = per[variant][0]
                if (r["schedules"], r["schedules_unreduced"]) != (
                    first["schedules"],
                    first["schedules_unreduced"],
                ):
                    log(f"{variant}: schedules differ from trial 1 ({r['schedules']:,})")
                log(
                    f"trial {t + 1}/{p.trials} {variant}: {r['verdict']}, "
                    f"{r['schedules']:,} schedules ({r['schedules_unreduced']:,} unreduced), "
                    f"{r['elapsed_s']:.2f} s"
                )
    rows = [_merge(per[v]) for v in variants]
    pingpong_us = statistics.median(pings)
    fresh_l = [r["fresh_s_a_schedule"] for r in rows if "fresh_s_a_schedule" in r]
    fresh_s = sum(fresh_l) / len(fresh_l) if fresh_l else None
    front, front_note = _frontrun(k, p.seconds, log)

    notes = [f"bare semaphore ping-pong round trip: {pingpong_us:.1f} us"]
    reuse = sum(r["schedules_per_s"] for r in rows) / len(rows)
    if fresh_s is not None:
        notes.append(
            f"a run a schedule (fresh processes, replay): {fresh_s * 1e3:.0f} ms; reused "
            f"processes: {1e3 / reuse:.1f} ms ({fresh_s * reuse:.0f}x)"
        )
    if front_note:
        notes.append(front_note)
    trials_s = f", median of {p.trials} trials" if p.trials > 1 else ""
    table = Table(
        f"testbed explore genode-race, 2 creators x 1 child, K={k}{trials_s}",
        ["variant", "verdict", "schedules", "no reduction", "saved", "pruned", "s",
         "schedules/s", "us a step", "found in", "replays"],
        [
            [
                r["variant"], r["verdict"], f"{r['schedules']:,}", f"{r['schedules_unreduced']:,}",
                f"{r['fraction_saved']:.0%}", f"{r['pruned']:,}", f"{r['elapsed_s']:.2f}",
                f"{r['schedules_per_s']:,.0f}", f"{r['us_a_step']:.0f}",
                str(r.get("found_in", "-")),
                f"{r['replays_reproduced']}/{r['replays']}" if "replays" in r else "-",
            ]
            for r in rows
        ],
        "\n".join(notes),
    )  # fmt: skip
    tables = [table]
    if front:
        tables.append(
            Table(
                f"frontrun on the threads version (bench/explore_threads.py), K={k}",
                ["variant", "executions", "s", "found"],
                [
                    [
                        f["variant"],
                        f"{f['executions']:,}",
                        f"{f['seconds']:.2f}",
                        "found" if f["found"] else "no failure",
                    ]
                    for f in front
                ],
            )  # fmt: skip
        )
    figures = {
        "preemptions": k,
        "config": CONFIG,
        "pingpong_us": pingpong_us,
        "rows": rows,
        "fresh_s_a_schedule": fresh_s,
        "reused_s_a_schedule": 1 / reuse if reuse else None,
        "frontrun": front,
        "frontrun_note": front_note,
    }
    return figures, tables


BENCH = Bench(
    "explore",
    "testbed explore on genode-race: schedules, reduction, reused against fresh processes",
    measure,
    profiles={
        "quick": {
            "trials": 1,
            "seconds": 30.0,
            "preemptions": 1,
            "fresh": 2,
            "variants": list(VARIANTS),
        },
        "default": {
            "trials": 1,
            "seconds": 600.0,
            "preemptions": 2,
            "fresh": 5,
            "variants": list(VARIANTS),
        },
        "tough": {
            "trials": 3,
            "seconds": 600.0,
            "preemptions": 3,
            "fresh": 20,
            "variants": list(VARIANTS),
        },
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
