"""Measures the MMU model: page checks a second (batched C range, one ctypes call a page, pure
Python) and the page-fault round trip to core beside the plain request round trip.

    python -m bench.mmu [--out PATH] [--rounds N]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

from bench import result
from kernel_model.genode import layout
from kernel_model.page_table import PageTable, Perm
from testbed.harness.run import RunOptions, run
from testbed.ipc.native import PageBytes, address_of, lib

NPAGES = layout.AREA_PAGES  # a whole stack area: 65536 pages


def _best(fn, repeat: int = 5) -> float:
    """Best of `repeat` timings of fn(), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def checks() -> dict[str, float]:
    buf = bytearray([int(Perm.RW)]) * NPAGES
    addr, need = address_of(buf), int(Perm.WRITE)
    table = PageTable(PageBytes(addr, NPAGES), layout.AREA_BASE, NPAGES)
    raw = lib().tb_pt_check
    reps = 200

    def batched():
        for _ in range(reps):
            assert table.check(layout.AREA_BASE, layout.AREA_SIZE, Perm.WRITE) is None

    def per_page():
        for i in range(NPAGES):
            raw(addr, i, 1, need)

    view = memoryview(buf)

    def pure():
        for b in view:
            if b & need != need:
                break

    ns = {
        "batched_c": _best(batched) / (reps * NPAGES) * 1e9,
        "ctypes_per_page": _best(per_page) / NPAGES * 1e9,
        "pure_python": _best(pure) / NPAGES * 1e9,
    }
    return {
        **{f"{k}_ns_per_page": v for k, v in ns.items()},
        **{f"{k}_pages_per_s": 1e9 / v for k, v in ns.items()},
        "batched_vs_ctypes_per_page": ns["ctypes_per_page"] / ns["batched_c"],
        "batched_vs_pure_python": ns["pure_python"] / ns["batched_c"],
    }


def round_trips(pin: str, rounds: int, calls: int) -> dict[str, float]:
    from scenarios.core_roundtrip import SCENARIO as null
    from scenarios.page_fault import SCENARIO as fault

    cfg = {"clients": 1, "calls": calls}
    a = run(RunOptions(null, "null", cfg, seed=1, rounds=rounds, pin=pin))
    b = run(RunOptions(fault, "lazy", cfg, seed=1, rounds=rounds, pin=pin))
    for doc in (a, b):
        if doc["exit_code"]:
            raise SystemExit(f"{doc['scenario']} failed: {doc['reasons']}")
    null_us, fault_us = 1e6 / a["round_trips_per_s"], 1e6 / b["faults_per_s"]
    return {"null_request_us": null_us, "page_fault_us": fault_us, "ratio": fault_us / null_us}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mmu", description=__doc__.split("\n")[0])
    default = Path(__file__).parent / "results" / f"mmu-{time.strftime('%Y%m%d-%H%M%S')}.json"
    p.add_argument("--out", default=str(default), help="JSON result (default bench/results/)")
    p.add_argument("--rounds", type=int, default=100, help="rounds of the round-trip runs")
    p.add_argument("--calls", type=int, default=200, help="requests (faults) a round")
    args = p.parse_args(argv)

    c = checks()
    rt = {pin: round_trips(pin, args.rounds, args.calls) for pin in ("same", "spread")}
    targets = {
        "batched_ns_per_page_max": 2.0, "batched_vs_pure_python_min": 100.0,
        "met": c["batched_c_ns_per_page"] <= 2.0 and c["batched_vs_pure_python"] >= 100.0,
    }  # fmt: skip
    print(
        f"{'MMU check of a sequential range':40} {'ns/page':>10} {'pages/s':>14} {'vs batched':>11}"
    )
    for k, label in (("batched_c", "batched C (one call, 65536 pages)"),
                     ("ctypes_per_page", "one ctypes call a page"),
                     ("pure_python", "pure Python over a memoryview")):  # fmt: skip
        ns = c[f"{k}_ns_per_page"]
        print(f"{label:40} {ns:10.3f} {1e9 / ns:14,.0f} {ns / c['batched_c_ns_per_page']:10.0f}x")
    print(
        f"targets: <= 2 ns a page batched, >= 100x pure Python: {'met' if targets['met'] else 'NOT met'}"
    )
    print(f"\n{'round trip to core (1 client)':40} {'null us':>10} {'fault us':>10} {'ratio':>8}")
    for pin, r in rt.items():
        print(
            f"{'pin ' + pin:40} {r['null_request_us']:10.1f} {r['page_fault_us']:10.1f} {r['ratio']:8.2f}"
        )
    doc = {"checks": c, "round_trips": rt, "targets": targets,
           "config": {"rounds": args.rounds, "calls": args.calls, "pages": NPAGES}}  # fmt: skip
    result.write(args.out, doc, Console())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
