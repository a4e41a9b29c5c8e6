"""Measures the MMU model: page checks a second (batched C range, one ctypes call a page, pure
Python) and the page-fault round trip to core beside the plain request round trip.

    testbed bench mmu [--profile quick|default|tough]
"""

from __future__ import annotations

import time

from kernel_model.genode import layout
from kernel_model.page_table import PageTable, Perm
from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
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


def checks(repeat: int) -> dict[str, float]:
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
        "batched_c": _best(batched, repeat) / (reps * NPAGES) * 1e9,
        "ctypes_per_page": _best(per_page, repeat) / NPAGES * 1e9,
        "pure_python": _best(pure, repeat) / NPAGES * 1e9,
    }
    return {
        **{f"{k}_ns_per_page": v for k, v in ns.items()},
        **{f"{k}_pages_per_s": 1e9 / v for k, v in ns.items()},
        "batched_vs_ctypes_per_page": ns["ctypes_per_page"] / ns["batched_c"],
        "batched_vs_pure_python": ns["pure_python"] / ns["batched_c"],
    }


def round_trips(pin: str, rounds: int, calls: int) -> dict[str, float]:
    from testbed.scenarios.core_roundtrip import SCENARIO as null
    from testbed.scenarios.page_fault import SCENARIO as fault

    cfg = {"clients": 1, "calls": calls}
    a = run(RunOptions(null, "null", cfg, seed=1, rounds=rounds, pin=pin))
    b = run(RunOptions(fault, "lazy", cfg, seed=1, rounds=rounds, pin=pin))
    for doc in (a, b):
        if doc["exit_code"]:
            raise RuntimeError(f"{doc['scenario']} failed: {doc['reasons']}")
    null_us, fault_us = 1e6 / a["round_trips_per_s"], 1e6 / b["faults_per_s"]
    return {"null_request_us": null_us, "page_fault_us": fault_us, "ratio": fault_us / null_us}


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    c = checks(p["repeat"])
    log("page checks done")
    rt = {pin: round_trips(pin, p["rounds"], p["calls"]) for pin in ("same", "spread")}
    targets = {
        "batched_ns_per_page_max": 2.0, "batched_vs_pure_python_min": 100.0,
        "met": c["batched_c_ns_per_page"] <= 2.0 and c["batched_vs_pure_python"] >= 100.0,
    }  # fmt: skip
    rows = []
    for k, label in (("batched_c", "batched C (one call, 65536 pages)"),
                     ("ctypes_per_page", "one ctypes call a page"),
                     ("pure_python", "pure Python over a memoryview")):  # fmt: skip
        ns = c[f"{k}_ns_per_page"]
        rows.append(
            [label, f"{ns:.3f}", f"{1e9 / ns:,.0f}", f"{ns / c['batched_c_ns_per_page']:.0f}x"]
        )
    t1 = Table(
        f"MMU check of a sequential range (best of {p['repeat']})",
        ["check", "ns/page", "pages/s", "vs batched"],
        rows,
        "targets: <= 2 ns a page batched, >= 100x pure Python: "
        + ("met" if targets["met"] else "NOT met"),
    )
    t2 = Table(
        f"round trip to core (1 client, {p['rounds']} rounds x {p['calls']} calls)",
        ["pin", "null us", "fault us", "ratio"],
        [
            [pin, f"{r['null_request_us']:.1f}", f"{r['page_fault_us']:.1f}", f"{r['ratio']:.2f}"]
            for pin, r in rt.items()
        ],
    )
    doc = {"checks": c, "round_trips": rt, "targets": targets, "pages": NPAGES}
    return doc, [t1, t2]


BENCH = Bench(
    "mmu",
    "the MMU model: page checks a second (batched C, ctypes a page, Python); fault round trip",
    measure,
    profiles={
        "quick": {"repeat": 2, "rounds": 10, "calls": 100},
        "default": {"repeat": 5, "rounds": 100, "calls": 200},
        "tough": {"repeat": 9, "rounds": 300, "calls": 200},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    raise SystemExit(main())
