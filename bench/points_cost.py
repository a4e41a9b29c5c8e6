"""What schedule points cost in a normal run, in one bench run: genode-race creations a
second with points present but idle (--no-record, --perturb none), against the same build
with every point compiled out (TESTBED_POINTS=off), and with recording on (--record).

    testbed bench points_cost [--profile P] [--trials 5] [--seconds 2]

Each trial is a subprocess (`python -m testbed.cli stress genode-race ... --json -`), since
TESTBED_POINTS must be set in the environment of the process that starts the run. Within a
trial the three builds run back to back, in an order that reverses from one trial to the
next, so that a drift of the machine weighs on all three alike. Reported: the median and
the spread (min/max) of creations/s, the ratio of the medians points / compiled out (target:
points at most 5% slower) and record / no-record, and the median of the per-trial ratios. Beside it, free of the noise of a multiprocess run:
the model alone in this process (core a direct call, no IPC), points idle against compiled
out (best of short alternating repetitions), which gives the points' CPU cost a creation
and so the slowdown they should cause at the throughput measured; and the points recording
into a ring of this process, through the C builtin of today (testbed/ipc/hooks.c) and
through the ctypes call it replaced.
"""

from __future__ import annotations

import ctypes
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from kernel_model.genode import context_allocator, layout
from kernel_model.genode.core import Core, CoreConnection
from kernel_model.genode.thread_list import ThreadList
from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.harness.points import ENV, without_points
from testbed.ipc.native import Bitmap, address_of, lib

VARIANTS = ("fixed", "bitalloc")
PINS = ("none", "same")
# build name -> (TESTBED_POINTS, recording flag)
BUILDS = {
    "compiled out": ("off", "--no-record"),
    "points idle": ("on", "--no-record"),
    "record": ("on", "--record"),
}
TARGET = 0.05  # points at most 5% slower than compiled out


def one_trial(variant: str, pin: str, build: str, seconds: float, seed: int) -> dict:
    points, record = BUILDS[build]
    env = dict(os.environ)
    if points == "off":
        env[ENV] = "off"
    else:
        env.pop(ENV, None)
    cmd = [
        sys.executable, "-m", "testbed.cli", "stress", "genode-race", "--variant", variant,
        "--duration", f"{seconds:g}", "--pin", pin, "--perturb", "none", record,
        "--seed", str(seed), "--max-traces", "0", "--json", "-",
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} (TESTBED_POINTS={points}): exit {proc.returncode}\n{proc.stderr}"
        )
    return json.loads(proc.stdout)


class _FreeLock:
    def acquire(self) -> None:
        pass

    def release(self) -> None:
        pass


def model_us(variant: str, compiled_out: bool, creations: int, point=None) -> float:
    """Microseconds a creation and its destruction take in the model alone, in this process:
    core served by a direct call, locks that never block, no IPC; the CPU cost of the points
    without the noise of a multiprocess run."""
    module = without_points(context_allocator) if compiled_out else context_allocator
    bufs = [
        bytearray(8 * Bitmap.words(layout.AREA_PAGES)),
        bytearray(8 * ThreadList.words_needed(64)),
    ]
    slots = bytearray(8 * Bitmap.words(layout.NUM_SLOTS))
    core = Core(1, lambda pd: Bitmap(address_of(bufs[0]), layout.AREA_PAGES), 1 << 30)
    threads = ThreadList(memoryview(bufs[1]).cast("Q"))
    threads.reset()
    alloc = module.VARIANTS[variant](
        threads, _FreeLock(), _FreeLock(),
        CoreConnection(lambda op, a0, a1, a2: core.serve(op, 0, a0, a1, a2)),
        Bitmap(address_of(slots), layout.NUM_SLOTS), point=point,
    )  # fmt: skip
    t0 = time.perf_counter()
    for _ in range(creations // 8):
        stacks = [alloc.create(16 * 1024) for _ in range(8)]  # 2 creators x 4 children
        for st in stacks:
            alloc.destroy(st)
    return (time.perf_counter() - t0) / (creations // 8 * 8) * 1e6


_RING_EVENTS = 1 << 12
_RING = (ctypes.c_uint64 * (1 + 2 * _RING_EVENTS))()  # this process's ring, bound once
_TICKETS = ctypes.c_uint64(0)


def recording_points() -> dict[str, Callable[[str], object]]:
    """Point hooks that record into a ring of this process, as a recording actor's do: the
    C builtin of today (testbed/ipc/hooks.c) and the ctypes call it replaced."""
    so = lib()
    so.tb_recorder_bind(ctypes.addressof(_RING), _RING_EVENTS, ctypes.addressof(_TICKETS))
    ids = {name: k for k, name in enumerate(context_allocator.POINTS)}
    rec, at_access = so.tb_rec, set()
    return {
        "recorded": so.tb_hook_point(ids, ctypes.addressof(_TICKETS), 0),
        "recorded, ctypes": lambda name: None if name in at_access else rec(ids[name]),
    }


def points_a_creation(variant: str) -> float:
    n = [0]

    def count(name: str) -> None:
        n[0] += 1

    model_us(variant, False, 800, point=count)
    return n[0] / 800


def spread(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "all": xs}


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    model = {}
    for variant in VARIANTS:
        hooks = recording_points()
        us: dict[str, list[float]] = {
            "compiled out": [],
            "points idle": [],
            **{h: [] for h in hooks},
        }
        for _ in range(p.trials * 4):  # short, alternating repetitions; the best is kept
            us["compiled out"].append(model_us(variant, True, p["creations"] // 4))
            us["points idle"].append(model_us(variant, False, p["creations"] // 4))
            for h, hook in hooks.items():
                us[h].append(model_us(variant, False, p["creations"] // 4, point=hook))
        n = points_a_creation(variant)
        # differences of repetitions run side by side, paired: a median with its interval,
        # null (and why) below the resolution, never a negative time
        off = us["compiled out"]
        cost = harness.difference(us["points idle"], off)["value"]
        model[variant] = {
            "us_a_creation": {b: spread(x) for b, x in us.items()},
            "points_a_creation": n,
            "points_us_a_creation": cost,
            "ns_a_point": harness.difference(us["points idle"], off, 1e3 / n),
            # what recording adds to a point (over a compiled-out one), C builtin and ctypes
            "recorded_ns_a_point": {h: harness.difference(us[h], off, 1e3 / n) for h in hooks},
        }
        log(f"model only, {variant} done")

    rows = []
    for variant in VARIANTS:
        for pin in p["pins"]:
            rates: dict[str, list[float]] = {b: [] for b in BUILDS}
            order = list(BUILDS)
            for t in range(p.trials):
                for build in order if t % 2 == 0 else order[::-1]:
                    doc = one_trial(variant, pin, build, p.seconds, seed=t + 1)
                    rates[build].append(doc["creations_per_s"])
                log(
                    f"{variant} pin={pin} trial {t + 1}/{p.trials}: "
                    + ", ".join(f"{b} {rates[b][-1]:,.0f}/s" for b in BUILDS)
                )
            off, idle, rec = (rates[b] for b in BUILDS)
            med = {b: statistics.median(rates[b]) for b in BUILDS}
            rows.append(
                {
                    "variant": variant,
                    "pin": pin,
                    # what the model-only cost of the points predicts at this throughput
                    "predicted_points_over_compiled_out": None
                    if model[variant]["points_us_a_creation"] is None
                    else 1 - model[variant]["points_us_a_creation"] * 1e-6 * med["points idle"],
                    "creations_per_s": {b: spread(rates[b]) for b in BUILDS},
                    "points_over_compiled_out": med["points idle"] / med["compiled out"],
                    "record_over_no_record": med["record"] / med["points idle"],
                    "paired_points_over_compiled_out": statistics.median(
                        i / o for i, o in zip(idle, off, strict=True)
                    ),
                    "paired_record_over_no_record": statistics.median(
                        r / i for r, i in zip(rec, idle, strict=True)
                    ),
                }
            )

    cells = []
    for r in rows:
        cps = r["creations_per_s"]
        ratio = r["points_over_compiled_out"]
        cells.append([
            r["variant"], r["pin"],
            *(f"{cps[b]['median'] / 1e3:.1f} [{cps[b]['min'] / 1e3:.1f}-{cps[b]['max'] / 1e3:.1f}]"
              for b in BUILDS),
            f"{ratio:.3f} ({r['paired_points_over_compiled_out']:.3f})",
            "-" if r["predicted_points_over_compiled_out"] is None
            else f"{r['predicted_points_over_compiled_out']:.3f}",
            f"{r['record_over_no_record']:.3f} ({r['paired_record_over_no_record']:.3f})",
            "met" if ratio >= 1 - TARGET else "MISSED",
        ])  # fmt: skip
    t1 = Table(
        "genode-race thousand creations/s: points idle vs compiled out vs recording "
        f"(median [min-max] of {p.trials} x {p.seconds:g} s)",
        ["variant", "pin", *BUILDS, "points / out", "predicted", "record / no-rec", "target"],
        cells,
        "ratios: of the medians (in brackets: median of the per-trial ratios); predicted: "
        "1 - (the points' cost a creation in the model alone) x (creations/s with points)",
    )
    t2 = Table(
        "the model alone, in one process (no IPC, locks that never block): us a creation, "
        f"best [median] of {p.trials * 4} x {p['creations'] // 4}",
        [
            "variant",
            "compiled out",
            "points idle",
            "recorded (C builtin)",
            "recorded (ctypes)",
            "points a creation",
            "ns a point: idle, recorded C, recorded ctypes",
        ],
        [
            [
                variant,
                *(f"{u[b]['min']:.2f} [{u[b]['median']:.2f}]" for b in u),
                f"{m['points_a_creation']:.1f}",
                harness.shown(m["ns_a_point"], "{:.0f}")
                + ", "
                + ", ".join(harness.shown(x, "{:.0f}") for x in m["recorded_ns_a_point"].values()),
            ]
            for variant, m in model.items()
            for u in [m["us_a_creation"]]
        ],
    )
    doc = {
        "rows": rows,
        "model_only": model,
        "target_max_slowdown": TARGET,
        "builds": {b: {"TESTBED_POINTS": pt, "record": r} for b, (pt, r) in BUILDS.items()},
    }
    return doc, [t1, t2]


BENCH = Bench(
    "points_cost",
    "what schedule points cost: points idle vs compiled out vs recording",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 0.5, "creations": 4000, "pins": ["none"]},
        "default": {"trials": 5, "seconds": 2.0, "creations": 40000, "pins": list(PINS)},
        "tough": {"trials": 9, "seconds": 4.0, "creations": 80000, "pins": list(PINS)},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
