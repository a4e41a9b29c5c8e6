"""What `--points access` costs against `named`: creations a second of genode-race `fixed`
with each, recording off and on, in one run (trials alternate so a drift of the machine
weighs on all alike); and what the deadlock watch adds to a lock (every run's locks), as
acquire+release pairs of an uncontended lock, bare NamedLock against the watched one.

    testbed bench access_cost [--profile quick|default|tough] [--trials N] [--seconds S]
"""

from __future__ import annotations

import statistics
import sys
import time

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.harness import deadlock
from testbed.harness.run import RunOptions, run
from testbed.ipc import names
from testbed.ipc.locks import NamedLock, create_semaphore, unlink_semaphore
from testbed.scenarios.genode_race import SCENARIO

CONFIG = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
SETTINGS = [("named", False), ("access", False), ("named", True), ("access", True)]


def lock_pairs_per_s(n: int) -> dict[str, float]:
    """Uncontended acquire+release pairs a second: NamedLock, and WatchedLock around it."""
    name = names.new_prefix() + ".lock.bench"
    create_semaphore(name, 1)
    try:
        bare = NamedLock(name, 10.0)
        words = memoryview(bytearray(8 * deadlock.WORDS)).cast("Q")
        watched = deadlock.WatchedLock(
            bare,
            0,
            deadlock.WaitFor(words, words, lambda k: 0, ["a"], ["bench"]),
            0,
            lambda e: None,
        )
        out = {}
        for label, lock in (("named_lock", bare), ("watched_lock", watched)):
            t0 = time.perf_counter()
            for _ in range(n):
                lock.acquire()
                lock.release()
            out[label] = n / (time.perf_counter() - t0)
        bare.close()
        return out
    finally:
        unlink_semaphore(name)


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost, every setting once a trial, so drift weighs on all alike."""
    pin = p["pin"]
    rates: dict[tuple[str, bool], list[float]] = {s: [] for s in SETTINGS}
    locks: dict[str, list[float]] = {"named_lock": [], "watched_lock": []}
    for t in range(p.trials):
        for pts, record in SETTINGS:
            doc = run(
                RunOptions(
                    SCENARIO, "fixed", CONFIG, seed=t + 1, duration_s=p.seconds,
                    pin=pin, point_level=pts, record=record, max_traces=0,
                )
            )  # fmt: skip
            rates[(pts, record)].append(doc["creations_per_s"])
            log(f"trial {t + 1} {pts} record={record}: {doc['creations_per_s']:,.0f} creations/s")
        for k, v in lock_pairs_per_s(p["locks"]).items():
            locks[k].append(v)
    med = {k: statistics.median(v) for k, v in rates.items()}
    lock_med = {k: statistics.median(v) for k, v in locks.items()}
    table = Table(
        f"genode-race fixed, pin {pin}: median creations/s of {p.trials} trials of {p.seconds:g} s",
        ["points", "record", "creations/s", "vs named"],
        [
            [
                pts,
                "on" if record else "off",
                f"{med[(pts, record)]:,.0f}",
                f"{med[(pts, record)] / med[('named', record)]:.2f}",
            ]
            for pts, record in SETTINGS
        ],
        note=(
            f"uncontended lock acquire+release: NamedLock {lock_med['named_lock']:,.0f}/s, "
            f"with the deadlock watch {lock_med['watched_lock']:,.0f}/s "
            f"({lock_med['watched_lock'] / lock_med['named_lock']:.2f}x)"
        ),
    )
    doc = {
        "rows": [
            {
                "points": pts,
                "record": record,
                "creations_per_s": rates[(pts, record)],
                "median": med[(pts, record)],
                "vs_named": med[(pts, record)] / med[("named", record)],
            }
            for pts, record in SETTINGS
        ],
        "lock_pairs_per_s": locks,
        "pin": pin,
        "config": CONFIG,
    }
    return doc, [table]


BENCH = Bench(
    "access_cost",
    "what --points access costs against named (creations/s), and the deadlock watch on a lock",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 0.5, "pin": "same", "locks": 20_000},
        "default": {"trials": 5, "seconds": 2.0, "pin": "same", "locks": 200_000},
        "tough": {"trials": 9, "seconds": 4.0, "pin": "same", "locks": 500_000},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
