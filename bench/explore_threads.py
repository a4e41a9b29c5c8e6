"""A threads version of the Genode 2010 allocator, explored by frontrun (DPOR over bytecode
accesses) for comparison with `testbed explore` on the real multi-process model. Run under
frontrun's environment; prints one JSON line a variant:

    frontrun python -m testbed.bench.explore_threads [--preemptions 2]
"""

from __future__ import annotations

import argparse
import json
import threading
import time

SLOTS = 4  # 2 creators x 1 child never need more


class Pd:
    """One PD: its thread list (records holding their slot, None until assigned), the two
    locks, the slot bits of the 2014 fix, and core's attached slots."""

    def __init__(self) -> None:
        self.threads: list[list[int | None]] = []
        self.threads_lock, self.alloc_lock = threading.Lock(), threading.Lock()
        self.bits = [False] * SLOTS
        self.attached: set[int] = set()
        self.conflicts = 0

    def alloc(self) -> tuple[list[int | None], int]:
        with self.threads_lock:
            for slot in range(SLOTS):
                if not any(r[0] == slot for r in self.threads):
                    record: list[int | None] = [None]
                    self.threads.append(record)
                    return record, slot
        raise RuntimeError("out of slots")

    def attach(self, slot: int) -> bool:
        """Core's attach_at: a slot attached twice is a Region_conflict."""
        if slot in self.attached:
            self.conflicts += 1
            return False
        self.attached.add(slot)
        return True


def racy(pd: Pd) -> None:
    record, slot = pd.alloc()
    if pd.attach(slot):
        record[0] = slot


def quickfix(pd: Pd) -> None:
    with pd.alloc_lock:
        record, slot = pd.alloc()
        ok = pd.attach(slot)
    if ok:
        record[0] = slot


def fixed(pd: Pd) -> None:
    with pd.alloc_lock:
        record, slot = pd.alloc()
        if pd.attach(slot):
            record[0] = slot


def bitalloc(pd: Pd) -> None:
    with pd.threads_lock:
        slot = next(k for k in range(1, SLOTS) if not pd.bits[k])
        pd.bits[slot] = True
    pd.attach(slot)


def main(argv: list[str] | None = None) -> int:
    from frontrun import explore

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--preemptions", type=int, default=2)
    args = ap.parse_args(argv)
    for worker in (racy, quickfix, fixed, bitalloc):
        t = time.perf_counter()
        r = explore(
            setup=Pd,
            workers=worker,
            count=2,
            invariant=lambda pd: pd.conflicts == 0,
            preemption_bound=args.preemptions,
            reproduce_on_failure=0,
            stop_on_first=True,
        )
        dt = time.perf_counter() - t
        print(
            json.dumps(
                {
                    "variant": worker.__name__,
                    "executions": r.num_explored,
                    "found": not r.property_holds,
                    "exhausted": bool(getattr(r, "exhausted", False)),
                    "seconds": dt,
                }
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
