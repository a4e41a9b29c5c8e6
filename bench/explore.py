"""`testbed explore` on genode-race, 2 creators x 1 child, at K preemptions: schedules, pruned,
schedules a second (processes reused) against a run a schedule (a replay starts fresh
processes) and the bare semaphore ping-pong a step costs at least, all in one run; at
access-level points, the reduction with a step's reads known against unknown; steps a
second of explore and of replay beside stress's attempts a second on the same scenario;
the step handoff, spinning, on one CPU (and auto) against the semaphore alone on two CPUs, on
the same search in the same run (`handoff_runs` explorations of each, interleaved, with the
load average and the CPU pressure around them); then
frontrun on the threads version of the same model (bench/explore_threads.py), if
installed.

    testbed bench explore [--profile quick|default|tough] [--trials N] [--seconds S]

Knobs of a profile: `preemptions` (the bound K), `fresh` (replays with fresh processes,
timed, a variant that fails), `variants` (the genode-race variants explored), `access`
(those also explored at `--points access`, three ways: reads known, reads unknown, no
reduction), `stress_s` (seconds of stress a point level, variant fixed), `handoff_runs`
(explorations of variant fixed a handoff and a point level, at `handoff_preemptions`). `trials`
repeats every exploration (variants interleaved a trial; times are medians, counts are
the first trial's, identical a trial since the search is seeded); `seconds` is the time
frontrun may take.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from testbed.bench import harness, pingpong
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.explorer import ExploreOptions, explore
from testbed.harness.replay import replay
from testbed.harness.run import RunOptions, run
from testbed.ipc import handoff
from testbed.scenarios.genode_race import SCENARIO
from testbed.trace.trace import Trace

CONFIG = {"pds": 1, "creators": 2, "children": 1, "stack_size": 16 * 1024}
VARIANTS = ("fixed", "bitalloc", "racy", "quickfix")
PINGPONG_CALLS = 5000
TIMES = (
    "elapsed_s", "total_s", "elapsed_unreduced_s", "schedules_per_s", "steps_per_s", "us_a_step",
    "attempts_per_s",
)  # fmt: skip
ATTEMPTS_A_SCHEDULE = CONFIG["creators"] * CONFIG["children"]  # thread creations


def _explore(
    variant: str,
    k: int,
    reduce: bool,
    tmp: str,
    points: str = "named",
    reads: bool = True,
    handoff: str = "auto",
) -> dict:
    hunt = ["region_conflict"] if variant in ("racy", "quickfix") else []
    opts = ExploreOptions(
        SCENARIO, variant, dict(CONFIG), ref="genode-race", preemptions=k, reduce=reduce,
        require=hunt, seed=1, trace_dir=tmp, point_level=points, reads=reads, handoff=handoff,
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
            [exe, "python", "-m", "testbed.bench.explore_threads", "--preemptions", str(k)],
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
        "steps_per_s": reduced["steps_per_s"],
        **_attempts(reduced),
        "us_a_step": 1e6 * reduced["elapsed_s"] / max(1, reduced["steps"]),
    }
    if reduced["failures"]:
        trace = Trace.load(reduced["failures"][0]["trace_file"])
        row["found_in"] = reduced["failures"][0]["schedule"]
        t = time.perf_counter()
        docs = [replay(trace) for _ in range(fresh)]
        row["fresh_s_a_schedule"] = (time.perf_counter() - t) / fresh
        row["replay_steps_per_s"] = statistics.median(d["replay"]["steps_per_s"] for d in docs)
        row["replays_reproduced"] = sum(d["replay"]["reproduced"] for d in docs)
        row["replays"] = fresh
    return row


def _access(variant: str, k: int, tmp: str) -> dict:
    """A variant at access-level points: the reduction with reads known (each step parked
    at a word's point reads that word), with reads unknown (as at named points), and none."""
    known = _explore(variant, k, True, tmp, "access")
    unknown = _explore(variant, k, True, tmp, "access", reads=False)
    plain = _explore(variant, k, False, tmp, "access")
    return {
        "variant": variant,
        "verdict": known["verdict"],
        "complete": known["complete"] and unknown["complete"] and plain["complete"],
        "schedules_unreduced": plain["schedules"],
        **{
            f"{key}_{name}": doc[key]
            for name, doc in (("reads", known), ("no_reads", unknown))
            for key in ("schedules", "pruned", "sleep_blocked", "elapsed_s")
        },
        "saved_reads": 1 - known["schedules"] / plain["schedules"],
        "saved_no_reads": 1 - unknown["schedules"] / plain["schedules"],
        "steps_per_s": known["steps_per_s"],
        **_attempts(known),
    }


def _loadavg() -> float:
    """The machine's 1-minute load average: what the handoff's figures were measured under."""
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def _pressure(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "-"
    return f"{before:.0f}% -> {after:.0f}%"


HANDOFFS = ("sem", "spin", "one-cpu", "auto")  # sem (blocking, two CPUs): the baseline


def _handoffs(k: int, runs: int, tmp: str, log: Log) -> list[dict]:
    """Steps a second of variant fixed with each handoff (--handoff sem: block at once,
    wherever the kernel puts the processes; spin: spin, then block, on two CPUs; one-cpu:
    every process on one CPU, blocking at once; auto), explorations interleaved so drift
    weighs on all alike; the ratios of the medians to sem's. The searches must agree (same
    schedules, same steps, same verdict): else no ratio."""
    rows = []
    for points in ("named", "access"):
        rates: dict[str, list[float]] = {mode: [] for mode in HANDOFFS}
        counts: set[tuple[int, int, str]] = set()
        spun = slept = 0
        load, pressure = [_loadavg()], [handoff.cpu_pressure()]
        for _ in range(runs):
            for mode in rates:
                doc = _explore("fixed", k, True, tmp, points, handoff=mode)
                rates[mode].append(doc["steps_per_s"])
                counts.add((doc["schedules"], doc["steps"], doc["verdict"]))
                if mode == "spin":
                    spun += doc["handoff"]["spun"]
                    slept += doc["handoff"]["slept"]
        load.append(_loadavg())
        pressure.append(handoff.cpu_pressure())
        sem, spin, one, auto = (statistics.median(rates[m]) for m in HANDOFFS)
        same = len(counts) == 1
        row = {
            "points": points, "preemptions": k, "runs": runs, "same_search": same,
            "schedules": min(c[0] for c in counts), "steps": min(c[1] for c in counts),
            "steps_per_s_sem": sem, "steps_per_s_spin": spin, "steps_per_s_one_cpu": one,
            "steps_per_s_auto": auto,
            "ratio": spin / sem if same and sem > 0 else None,
            "ratio_one_cpu": one / sem if same and sem > 0 else None,
            "ratio_auto": auto / sem if same and sem > 0 else None,
            "cpu_pressure_before": pressure[0], "cpu_pressure_after": pressure[1],
            "runner_waits_spun": spun / max(1, spun + slept),
            "loadavg_before": load[0], "loadavg_after": load[1],
        }  # fmt: skip
        log(
            f"handoff at {points} points: sem {sem:,.0f} steps/s, spin {spin:,.0f}, "
            f"one-cpu {one:,.0f}, auto {auto:,.0f} "
            f"(load {load[0]:.2f} -> {load[1]:.2f})"
        )
        rows.append(row)
    return rows


def _stress(variant: str, seconds: float, points: str) -> dict:
    """Stress on the same scenario and config: attempts (thread creations) a second."""
    doc = run(
        RunOptions(SCENARIO, variant, dict(CONFIG), seed=1, duration_s=seconds, point_level=points)
    )
    return {"points": points, "attempts_per_s": doc["attempts"] / doc["elapsed_s"]}


def _rates(rows: list[dict], access_rows: list[dict], stress: dict[str, float]) -> list[dict]:
    """Explore's and replay's steps a second, and the attempts a second they make, beside
    stress's: one actor at a time against every actor at once."""
    out = []
    for r in rows:
        if r["variant"] == "fixed":
            out.append(_rate("explore fixed", "named", r))
    for r in access_rows:
        if r["variant"] == "fixed":
            out.append(_rate("explore fixed", "access", r))
    replays = [r["replay_steps_per_s"] for r in rows if "replay_steps_per_s" in r]
    if replays:
        out.append(
            {"run": "replay (fresh processes)", "points": "named",
             "steps_per_s": statistics.median(replays), "steps_an_attempt": 0.0,
             "attempts_per_s": 0.0}
        )  # fmt: skip
    out.extend(
        {"run": "stress fixed", "points": level, "steps_per_s": 0.0, "steps_an_attempt": 0.0,
         "attempts_per_s": rate}
        for level, rate in stress.items()
    )  # fmt: skip
    return out


def _attempts(doc: dict) -> dict:
    """An exploration's thread creations (those of the schedules run to their end) a second,
    and its steps (sleep-blocked schedules' included) an attempt."""
    attempts = doc["schedules"] * ATTEMPTS_A_SCHEDULE  # (sleep-blocked ones not counted)
    return {
        "attempts_per_s": attempts / doc["elapsed_s"] if doc["elapsed_s"] > 0 else 0.0,
        "steps_an_attempt": doc["steps"] / max(1, attempts),
    }


def _rate(run_name: str, points: str, row: dict) -> dict:
    keys = ("steps_per_s", "steps_an_attempt", "attempts_per_s")
    return {"run": run_name, "points": points, **{k: row[k] for k in keys}}


def _merge(trials: list[dict]) -> dict:
    """A variant's row over the trials: the first trial's counts, the median of the times,
    every replay summed."""
    row = dict(trials[0])
    for key in TIMES:
        row[key] = statistics.median(r[key] for r in trials)
    if "replays" in row:
        for key in ("fresh_s_a_schedule", "replay_steps_per_s"):
            row[key] = statistics.median(r[key] for r in trials)
        row["replays_reproduced"] = sum(r["replays_reproduced"] for r in trials)
        row["replays"] = sum(r["replays"] for r in trials)
    row["trials"] = len(trials)
    return row


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost, every variant once a trial, so drift weighs on all alike."""
    k, fresh, variants = p["preemptions"], p["fresh"], list(p["variants"])
    per: dict[str, list[dict]] = {v: [] for v in variants}
    per_access: dict[str, list[dict]] = {v: [] for v in p["access"]}
    stress: dict[str, list[float]] = {level: [] for level in ("named", "access")}
    pings: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for t in range(p.trials):
            pings.append(pingpong.round_trip_us(PINGPONG_CALLS, "none"))
            for level in stress:
                stress[level].append(_stress("fixed", p["stress_s"], level)["attempts_per_s"])
            for variant in per_access:
                r = _access(variant, k, tmp)
                per_access[variant].append(r)
                log(
                    f"trial {t + 1}/{p.trials} {variant} at access points: "
                    f"{r['schedules_reads']:,} schedules with reads, "
                    f"{r['schedules_no_reads']:,} without, {r['schedules_unreduced']:,} unreduced"
                )
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
        handoff_rows = _handoffs(p["handoff_preemptions"], p["handoff_runs"], tmp, log)
    rows = [_merge(per[v]) for v in variants]
    access_rows = [
        dict(
            r[0],
            steps_per_s=statistics.median(x["steps_per_s"] for x in r),
            attempts_per_s=statistics.median(x["attempts_per_s"] for x in r),
            **{
                f"elapsed_s_{name}": statistics.median(x[f"elapsed_s_{name}"] for x in r)
                for name in ("reads", "no_reads")
            },
        )
        for r in per_access.values()
    ]
    stress_rate = {level: statistics.median(v) for level, v in stress.items()}
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
    if access_rows:
        tables.append(
            Table(
                f"--points access, K={k}: the sleep sets with a step's reads known (each step "
                "parked at a word reads that word) against unknown (as at named points)",
                [
                    "variant",
                    "verdict",
                    "no reduction",
                    "reads unknown: schedules",
                    "pruned",
                    "saved",
                    "reads known: schedules",
                    "pruned",
                    "saved",
                    "s (known)",
                ],
                [
                    [
                        r["variant"],
                        r["verdict"],
                        f"{r['schedules_unreduced']:,}",
                        f"{r['schedules_no_reads']:,}",
                        f"{r['pruned_no_reads']:,}",
                        f"{r['saved_no_reads']:.0%}",
                        f"{r['schedules_reads']:,}",
                        f"{r['pruned_reads']:,}",
                        f"{r['saved_reads']:.0%}",
                        f"{r['elapsed_s_reads']:.2f}",
                    ]
                    for r in access_rows
                ],
            )  # fmt: skip
        )
    rate_rows = _rates(rows, access_rows, stress_rate)
    tables.append(
        Table(
            "steps a second (one actor at a time) against stress's attempts a second (every "
            f"actor at once), genode-race {CONFIG['creators']} creators x "
            f"{CONFIG['children']} child, same run",
            ["run", "points", "steps/s", "steps an attempt", "attempts/s"],
            [
                [
                    r["run"],
                    r["points"],
                    f"{r['steps_per_s']:,.0f}" if r["steps_per_s"] else "-",
                    f"{r['steps_an_attempt']:.1f}" if r["steps_an_attempt"] else "-",
                    f"{r['attempts_per_s']:,.0f}" if r["attempts_per_s"] else "-",
                ]
                for r in rate_rows
            ],
            f"an attempt: one thread creation ({ATTEMPTS_A_SCHEDULE} a schedule); stress: "
            f"variant fixed, {p['stress_s']:g} s a point level",
        )  # fmt: skip
    )
    tables.append(
        Table(
            "the step handoff: steps a second spinning (then blocking), on one CPU, and auto, "
            "against blocking at once on two CPUs (the semaphore alone), variant fixed, "
            f"K={p['handoff_preemptions']}, same run, medians",
            [
                "points",
                "schedules",
                "steps",
                "runs",
                "sem steps/s",
                "spin steps/s",
                "spin/sem",
                "one-cpu steps/s",
                "one-cpu/sem",
                "auto steps/s",
                "auto/sem",
                "runner waits spun",
                "load avg",
                "CPU pressure",
            ],
            [
                [
                    r["points"],
                    f"{r['schedules']:,}",
                    f"{r['steps']:,}",
                    str(r["runs"]),
                    f"{r['steps_per_s_sem']:,.0f}",
                    f"{r['steps_per_s_spin']:,.0f}",
                    f"{r['ratio']:.2f}x" if r["ratio"] is not None else "searches differ",
                    f"{r['steps_per_s_one_cpu']:,.0f}",
                    f"{r['ratio_one_cpu']:.2f}x" if r["ratio_one_cpu"] is not None else "-",
                    f"{r['steps_per_s_auto']:,.0f}",
                    f"{r['ratio_auto']:.2f}x" if r["ratio_auto"] is not None else "-",
                    f"{r['runner_waits_spun']:.0%}",
                    f"{r['loadavg_before']:.2f} -> {r['loadavg_after']:.2f}",
                    _pressure(r["cpu_pressure_before"], r["cpu_pressure_after"]),
                ]
                for r in handoff_rows
            ],
            f"{len(os.sched_getaffinity(0))} usable CPUs; sem: block at once, the processes "
            "wherever the kernel puts them; spin: spin on two CPUs whatever the load (runner "
            "waits spun: its share); one-cpu: the runner, core and the actors pinned to one "
            "CPU, nobody spinning; auto, the default: one-cpu (with --pin spread: spin while "
            f"/proc/pressure/cpu's some avg10 is below {handoff.BUSY_PRESSURE:g}%)",
        )  # fmt: skip
    )
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
        "access": access_rows,
        "stress_attempts_per_s": stress_rate,
        "rates": rate_rows,
        "frontrun": front,
        "frontrun_note": front_note,
        "handoff": handoff_rows,
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
            "access": ["fixed"],
            "stress_s": 1.0,
            "handoff_preemptions": 2,
            "handoff_runs": 3,
        },
        "default": {
            "trials": 1,
            "seconds": 600.0,
            "preemptions": 2,
            "fresh": 5,
            "variants": list(VARIANTS),
            "access": ["fixed", "bitalloc"],
            "stress_s": 3.0,
            "handoff_preemptions": 3,
            "handoff_runs": 5,
        },
        "tough": {
            "trials": 3,
            "seconds": 600.0,
            "preemptions": 3,
            "fresh": 20,
            "variants": list(VARIANTS),
            "access": ["fixed", "bitalloc"],
            "stress_s": 5.0,
            "handoff_preemptions": 4,
            "handoff_runs": 9,
        },
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
