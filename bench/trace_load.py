"""What loading a trace costs in memory: the peak resident size of a fresh process that loads
a trace of N events (a recorded genode-race trace's mix of points, core requests and
outcomes, written by Trace.save), against the same process reading the same file with
`json.loads` (the whole document as dicts: what loading did before it streamed events).

    testbed bench trace_load [--profile quick|default|tough] [--trials N]

The default profile loads the largest trace a loader takes (MAX_EVENTS events).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.trace.trace import MAX_EVENTS, Event, Trace

ACTORS = ("pd0.main", "pd0.thread1")
# one creation as a recorded genode-race trace shows it (its points, core's requests, the
# outcome), repeated with fresh tickets: 86 bytes an event, as recorded traces have
_POINTS = ("create", "threads_lock.acquire", "threads_lock.acquired", "search.slot",
           "threads_lock.release", "alloc.ram", "attach", "context.set")  # fmt: skip
_CORE = ({"client": "pd0.thread1", "op": "ram_alloc", "status": "ok"},
         {"client": "pd0.thread1", "op": "attach_at", "status": "ok", "slot": 3})  # fmt: skip

# the child: its resident size after its imports, the load, its peak (VmHWM: of this
# process's memory since its exec; getrusage's ru_maxrss would count the parent's at fork)
_CHILD = """
import json, sys, time
from testbed.trace.trace import Trace
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))
how, path = sys.argv[1], sys.argv[2]
base = status("VmRSS")
t0 = time.perf_counter()
if how == "json":
    with open(path, "rb") as f:
        n = len(json.loads(f.read())["events"])
else:
    n = len(Trace.load(path).events)
took = time.perf_counter() - t0
print(json.dumps({"events": n, "base_kib": base, "peak_kib": status("VmHWM"), "load_s": took}))
"""


def write_trace(path: Path, n: int) -> int:
    """A trace of `n` events shaped like a recorded one; its size in bytes."""
    events = []
    for k in range(n):
        m = k % 12
        if m < 8:
            events.append(Event(k, ACTORS[(k // 12) % 2], "point", _POINTS[m]))
        elif m < 10:
            events.append(Event(k, "core", "core", _CORE[m - 8]["op"], dict(_CORE[m - 8])))
        else:
            events.append(Event(k, ACTORS[(k // 12) % 2], "outcome", "ok"))
    Trace("genode-race", "racy", {"pds": 1, "creators": 2}, 1, list(ACTORS),
          "region_conflict", events=events).save(path)  # fmt: skip
    return path.stat().st_size


def _child(how: str, path: Path) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, how, str(path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"loading with {how} failed: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout)


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    n = p["events"]
    rows: dict[str, list[dict]] = {"json": [], "load": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.json"
        size = write_trace(path, n)
        log(f"a trace of {n:,} events, {size / 2**20:.1f} MiB")
        for t in range(p.trials):  # interleaved: a drift of the machine weighs on both alike
            for how in ("json", "load"):
                r = _child(how, path)
                if r["events"] != n:
                    raise RuntimeError(f"{how} read {r['events']} events of {n}")
                rows[how].append(r)
            log(f"trial {t + 1}: json {rows['json'][-1]['peak_kib'] >> 10} MiB, "
                f"load {rows['load'][-1]['peak_kib'] >> 10} MiB")  # fmt: skip

    def grown(how: str) -> float:  # bytes the load added to the process, median of trials
        return statistics.median((r["peak_kib"] - r["base_kib"]) * 1024 for r in rows[how])

    def seconds(how: str) -> float:
        return statistics.median(r["load_s"] for r in rows[how])

    figures = {
        "events": n,
        "file_bytes": size,
        "json_loads_bytes": grown("json"),
        "trace_load_bytes": grown("load"),
        "json_loads_per_file_byte": grown("json") / size,
        "trace_load_per_file_byte": grown("load") / size,
        "trace_load_over_json_loads": grown("load") / grown("json"),
        "json_loads_s": seconds("json"),
        "trace_load_s": seconds("load"),
        "trials": p.trials,
    }
    table = Table(
        f"loading a trace of {n:,} events ({size / 2**20:.1f} MiB), peak RSS added, "
        f"median of {p.trials}",
        ["reader", "MiB", "x file size", "s"],
        [
            [
                "json.loads (the document as dicts)",
                f"{grown('json') / 2**20:.0f}",
                f"{grown('json') / size:.2f}",
                f"{seconds('json'):.2f}",
            ],
            [
                "Trace.load (events streamed)",
                f"{grown('load') / 2**20:.0f}",
                f"{grown('load') / size:.2f}",
                f"{seconds('load'):.2f}",
            ],
        ],  # fmt: skip
        note=f"Trace.load / json.loads: {figures['trace_load_over_json_loads']:.2f} of the "
        "memory (json.loads alone is a lower bound of what loading took before)",
    )
    return figures, [table]


BENCH = Bench(
    "trace_load",
    "peak memory of loading the largest trace, against json.loads of the same file",
    measure,
    profiles={
        "quick": {"trials": 1, "events": 100_000},
        "default": {"trials": 3, "events": MAX_EVENTS},
        "tough": {"trials": 7, "events": MAX_EVENTS},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    raise SystemExit(main())
