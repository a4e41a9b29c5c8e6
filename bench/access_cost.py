"""What `--points access` costs against `named`: creations a second of genode-race `fixed`
with each, recording off and on, in one run (trials alternate so a drift of the machine
weighs on all alike); and what the deadlock watch adds to a lock (every run's locks), as
acquire+release pairs of an uncontended lock, bare NamedLock against the watched one.

    python -m bench.access_cost [--trials 5] [--seconds 2] [--pin same] [--out PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from rich.console import Console
from rich.table import Table

from bench import result
from scenarios.genode_race import SCENARIO
from testbed.harness import deadlock
from testbed.harness.run import RunOptions, run
from testbed.ipc import names
from testbed.ipc.locks import NamedLock, create_semaphore, unlink_semaphore

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
            bare, 0, deadlock.WaitFor(words, ["a"], ["bench"]), 0, lambda e: None
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--pin", default="same", choices=("same", "spread", "none"))
    ap.add_argument("--locks", type=int, default=200_000, help="lock pairs a trial")
    ap.add_argument("--out", default="bench/results/access_cost.json")
    args = ap.parse_args(argv)
    console = Console(stderr=True, emoji=False)
    rates: dict[tuple[str, bool], list[float]] = {s: [] for s in SETTINGS}
    locks: dict[str, list[float]] = {"named_lock": [], "watched_lock": []}
    for t in range(args.trials):
        for pts, record in SETTINGS:
            doc = run(
                RunOptions(
                    SCENARIO, "fixed", CONFIG, seed=t + 1, duration_s=args.seconds,
                    pin=args.pin, points=pts, record=record, max_traces=0,
                )
            )  # fmt: skip
            rates[(pts, record)].append(doc["creations_per_s"])
            console.print(
                f"trial {t + 1} {pts} record={record}: {doc['creations_per_s']:,.0f} creations/s"
            )
        for k, v in lock_pairs_per_s(args.locks).items():
            locks[k].append(v)
    med = {k: statistics.median(v) for k, v in rates.items()}
    table = Table(
        title=f"genode-race fixed, pin {args.pin}: median creations/s of {args.trials} trials "
        f"of {args.seconds:g} s"
    )
    for col in ("points", "record", "creations/s", "vs named"):
        table.add_column(col, justify="right")
    for pts, record in SETTINGS:
        ratio = med[(pts, record)] / med[("named", record)]
        table.add_row(pts, "on" if record else "off", f"{med[(pts, record)]:,.0f}", f"{ratio:.2f}")
    out = Console(width=120, emoji=False)
    out.print(table)
    lock_med = {k: statistics.median(v) for k, v in locks.items()}
    out.print(
        f"uncontended lock acquire+release: NamedLock {lock_med['named_lock']:,.0f}/s, "
        f"with the deadlock watch {lock_med['watched_lock']:,.0f}/s "
        f"({lock_med['watched_lock'] / lock_med['named_lock']:.2f}x)"
    )
    doc = {
        "rows": [
            {
                "points": p,
                "record": r,
                "creations_per_s": rates[(p, r)],
                "median": med[(p, r)],
                "vs_named": med[(p, r)] / med[("named", r)],
            }
            for p, r in SETTINGS
        ],  # fmt: skip
        "lock_pairs_per_s": locks,
        "trials": args.trials,
        "seconds": args.seconds,
        "pin": args.pin,
        "config": CONFIG,
    }
    result.write(args.out, doc, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
