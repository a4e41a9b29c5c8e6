"""Issue 2's figures, in one run: the core request round trip beside a bare semaphore
ping-pong (ratio), blocking and spinning replies, on one CPU and across CPUs; and thread
creations a second for each allocator variant.

    testbed bench core_roundtrip [--profile quick|default|tough] [--trials N] [--seconds S]
"""

from __future__ import annotations

import statistics
import sys

from bench import harness
from bench.harness import Bench, Log, Params, Table
from bench.pingpong import PINS, round_trip_us
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


def _spread(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost, every setting once a trial, so drift weighs on all alike."""
    raw: dict[str, list[float]] = {pin: [] for pin in PINS}
    core: dict[tuple[str, str], list[float]] = {(pin, s): [] for pin in PINS for s in SPINS}
    made: dict[str, list[float]] = {v: [] for v in RACE.variants}
    cfg = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
    for t in range(p.trials):
        for pin in PINS:
            raw[pin].append(round_trip_us(p["calls"], pin))
            for label, spin in SPINS.items():
                core[(pin, label)].append(core_round_trip_us(p["calls"], pin, spin))
        for variant in RACE.variants:
            doc = run(RunOptions(RACE, variant, cfg, duration_s=p.seconds, seed=t + 1))
            made[variant].append(doc["creations_per_s"])
        log(f"trial {t + 1}/{p.trials} done")
    rt: dict = {}
    for pin in PINS:
        rt[pin] = {"raw_pingpong_us": _spread(raw[pin])}
        for label in SPINS:
            rt[pin][label] = _spread(core[(pin, label)])
            rt[pin][label]["ratio_to_raw"] = (
                rt[pin][label]["median"] / rt[pin]["raw_pingpong_us"]["median"]
            )
    creations = {v: statistics.median(x) for v, x in made.items()}
    t1 = Table(
        f"core request round trip (median of {p.trials} trials x {p['calls']} calls)",
        ["pin", "raw ping-pong", *SPINS, *(f"{s} / raw" for s in SPINS)],
        [
            [
                pin,
                f"{r['raw_pingpong_us']['median']:.2f} us",
                *(f"{r[s]['median']:.2f} us" for s in SPINS),
                *(f"{r[s]['ratio_to_raw']:.2f}x" for s in SPINS),
            ]
            for pin, r in rt.items()
        ],
    )
    t2 = Table(
        f"genode-race creations/s (2 creators, 1 PD, pin none, {p.seconds:g} s runs)",
        list(creations),
        [[f"{c:,.0f}" for c in creations.values()]],
    )
    return {"round_trip": rt, "creations_per_s": creations}, [t1, t2]


BENCH = Bench(
    "core_roundtrip",
    "the core request round trip beside a bare semaphore ping-pong; creations a second",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 0.5, "calls": 2000},
        "default": {"trials": 3, "seconds": 2.0, "calls": 20000},
        "tough": {"trials": 7, "seconds": 5.0, "calls": 50000},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
