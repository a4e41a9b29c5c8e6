"""How often a recorded failure replays: record a trace of the first failure in several
settings (variant, CPU placement, seed), replay each several times, count reproductions.
The target is 99 of 100.

    testbed bench replay_rate [--profile P] [--trials SEEDS] [--seconds RECORDING_TIMEOUT]
"""

from __future__ import annotations

import sys
import tempfile

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.harness.replay import replay
from testbed.harness.run import RunOptions, run
from testbed.scenarios.genode_race import SCENARIO
from testbed.trace.trace import Trace

SETTINGS = [
    ("racy", "same"),
    ("racy", "spread"),
    ("quickfix", "same"),
    ("quickfix", "none"),
    ("quickfix", "spread"),
]


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """`seconds` is the time a recording may take; trials are seeds (traces a setting)."""
    cfg = {"pds": 1, "creators": 2, "children": 4, "stack_size": 16 * 1024}
    settings = SETTINGS[: p["settings"]]
    rows = {
        s: {"variant": s[0], "pin": s[1], "traces": 0, "incomplete": 0, "none": 0,
            "replays": 0, "reproduced": 0, "events": []}
        for s in settings
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(p.trials):  # seeds outermost: drift weighs on every setting alike
            for variant, pin in settings:
                row = rows[(variant, pin)]
                doc = run(
                    RunOptions(SCENARIO, variant, cfg, seed=seed, duration_s=p.seconds, pin=pin,
                               record=True, max_failures=1, max_traces=1, trace_dir=tmp,
                               ring_events=p["ring_events"])
                )  # fmt: skip
                if not doc["trace_files"]:
                    row["none"] += 1
                    continue
                trace = Trace.load(doc["trace_files"][0])
                if not trace.complete:
                    row["incomplete"] += 1
                    continue
                row["traces"] += 1
                row["events"].append(len(trace.events))
                for _ in range(p["replays"]):
                    row["replays"] += 1
                    row["reproduced"] += replay(trace)["replay"]["reproduced"]
            log(f"seed {seed + 1}/{p.trials} done")
    cells = []
    for r in rows.values():
        ev = sorted(r["events"])
        cells.append([
            r["variant"], r["pin"], str(r["traces"]), str(r["incomplete"]),
            str(ev[len(ev) // 2]) if ev else "-", f"{r['reproduced']}/{r['replays']}",
        ])  # fmt: skip
    total = sum(r["replays"] for r in rows.values())
    ok = sum(r["reproduced"] for r in rows.values())
    table = Table(
        f"replays of recorded first failures ({p.trials} seeds x {p['replays']} replays)",
        ["variant", "pin", "complete traces", "incomplete", "events (median)", "reproduced"],
        cells,
        f"all: {ok} of {total} replays reproduced the recorded outcome",
    )
    doc = {"rows": list(rows.values()), "replays": total, "reproduced": ok,
           "rate": ok / total if total else None}  # fmt: skip
    return doc, [table]


BENCH = Bench(
    "replay_rate",
    "how often a recorded failure replays (target 99 of 100)",
    measure,
    profiles={
        "quick": {
            "trials": 1,
            "seconds": 10.0,
            "replays": 2,
            "ring_events": 1 << 18,
            "settings": 2,
        },
        "default": {
            "trials": 5,
            "seconds": 20.0,
            "replays": 20,
            "ring_events": 1 << 18,
            "settings": len(SETTINGS),
        },
        "tough": {
            "trials": 10,
            "seconds": 20.0,
            "replays": 50,
            "ring_events": 1 << 18,
            "settings": len(SETTINGS),
        },
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
