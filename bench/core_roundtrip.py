"""Issue 2's figures, in one run: the core request round trip beside a bare semaphore
ping-pong (ratio), blocking and spinning replies, on one CPU and across CPUs, core in C
(served in place, the default) and in Python; and thread creations a second for each
allocator variant.

    testbed bench core_roundtrip [--profile quick|default|tough] [--trials N] [--seconds S]
"""

from __future__ import annotations

import statistics
import sys

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.bench.pingpong import PINS, round_trip_us, spin_round_trip_us
from testbed.harness.run import RunOptions, run
from testbed.scenarios.core_roundtrip import SCENARIO as ROUNDTRIP
from testbed.scenarios.genode_race import SCENARIO as RACE

SPINS = {"blocking": 0.0, "spin 50us": 50.0}
CORES = ("c", "python")  # the C core served in place (the default), the Python handler


def _elapsed_s(calls: int, pin: str, spin_us: float, core: str) -> float:
    doc = run(
        RunOptions(
            ROUNDTRIP, "null", {"clients": 1, "calls": calls, "core": core}, rounds=1, pin=pin,
            reply_spin_us=spin_us, core_spin_us=spin_us,
        )
    )  # fmt: skip
    assert doc["verdict"] == "pass", doc["reasons"]
    assert doc["attempts"] == calls
    return doc["elapsed_s"]


def core_run_pair_s(calls: int, pin: str, spin_us: float, core: str = "c") -> tuple[float, float]:
    """A run's elapsed time holds more than its calls (the actors' start and exit, a few
    ms): the round trip is the difference of a run of 2 x `calls` and one of `calls`
    (harness.difference, scale 1e6 / calls), the elapsed times of the two answered here."""
    one = _elapsed_s(calls, pin, spin_us, core)
    two = _elapsed_s(2 * calls, pin, spin_us, core)
    return two, one


LABELS = tuple(f"{c} {s}" for c in CORES for s in SPINS)


def _spread(xs: list[float]) -> dict:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost, every setting once a trial, so drift weighs on all alike."""
    raw: dict[str, list[float]] = {pin: [] for pin in PINS}
    polling: list[float] = []  # the floor of a spinning round trip across CPUs
    # (elapsed of 2 x calls, of calls) a trial
    core: dict[tuple[str, str], list[tuple[float, float]]] = {
        (pin, lb): [] for pin in PINS for lb in LABELS
    }
    made: dict[str, list[float]] = {v: [] for v in RACE.variants}
    cfg = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
    for t in range(p.trials):
        polling.append(spin_round_trip_us(p["calls"], "spread"))
        for pin in PINS:
            raw[pin].append(round_trip_us(p["calls"], pin))
            for c in CORES:
                for label, spin in SPINS.items():
                    core[(pin, f"{c} {label}")].append(core_run_pair_s(p["calls"], pin, spin, c))
        for variant in RACE.variants:
            doc = run(RunOptions(RACE, variant, cfg, duration_s=p.seconds, seed=t + 1))
            made[variant].append(doc["creations_per_s"])
        log(f"trial {t + 1}/{p.trials} done")
    rt: dict = {"polling_floor_spread_us": _spread(polling)}
    for pin in PINS:
        rt[pin] = {"raw_pingpong_us": _spread(raw[pin])}
        for label in LABELS:
            pairs = core[(pin, label)]
            # the difference of two runs: null (and why) when it is below the resolution
            fig = harness.difference([a for a, _ in pairs], [b for _, b in pairs], 1e6 / p["calls"])
            rt[pin][label] = fig
            us = [(a - b) * 1e6 / p["calls"] for a, b in pairs]
            fig["ratio_to_raw"] = (
                None if fig["value"] is None
                else fig["value"] / rt[pin]["raw_pingpong_us"]["median"]
            )  # fmt: skip
            # paired trial by trial (the raw ping-pong ran right before): only when every
            # trial's difference is a time
            fig["paired_ratio_to_raw"] = (
                None if fig["value"] is None or min(us) <= 0
                else _spread([a / b for a, b in zip(us, raw[pin], strict=True)])
            )  # fmt: skip
    floor = rt["polling_floor_spread_us"]["median"]
    creations = {v: statistics.median(x) for v, x in made.items()}

    def cell(x: dict) -> str:
        return f"{x['median']:.2f} us [{x['min']:.2f}-{x['max']:.2f}]"

    rows = []
    for pin in PINS:
        r = rt[pin]
        for c in CORES:
            b, sp = r[f"{c} blocking"], r[f"{c} spin 50us"]
            ratio = "-" if b["ratio_to_raw"] is None else f"{b['ratio_to_raw']:.2f}x" + (
                "" if b["paired_ratio_to_raw"] is None
                else f" ({b['paired_ratio_to_raw']['median']:.2f}x)"
            )  # fmt: skip
            rows.append([
                pin, c, cell(r["raw_pingpong_us"]), harness.shown(b, unit=" us"),
                harness.shown(sp, unit=" us"), ratio,
                "-" if sp["ratio_to_raw"] is None else f"{sp['ratio_to_raw']:.2f}x",
                "" if pin != "spread" else "-" if sp["value"] is None
                else f"{sp['value'] / floor:.1f}x",
            ])  # fmt: skip
    t1 = Table(
        f"core request round trip, median [min-max] of {p.trials} trials x {p['calls']} calls",
        ["pin", "core", "raw ping-pong", "blocking", "spin 50 us", "blocking / raw (paired)",
         "spin / raw", "spin / polling floor"],
        rows,
        f"polling floor across CPUs (two processes polling a shared word each, no semaphore): "
        f"{cell(rt['polling_floor_spread_us'])}; a core round trip is the difference of a run "
        f"of {2 * p['calls']} calls and one of {p['calls']}, median [95% interval]; "
        "'below resolution' where the runs' start-up noise exceeds the calls' time",
    )  # fmt: skip
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
