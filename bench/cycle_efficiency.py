"""Issue 13's figures, in one run: how close a create/destroy cycle of genode-race comes to
its IPC floor (four raw semaphore ping-pongs of the same placement), with 1, 2 and 4
creators, recording off and on, core in Python and in C; and what core's model costs a
request in process (CPU time, free of the machine's load).

    testbed bench cycle_efficiency [--profile quick|default|tough] [--trials N]
        [--seconds S] [--variant bitalloc|racy|quickfix|fixed]

Profile knobs: calls (round trips a raw ping-pong), creators, pins, model_requests
(requests a timing of core's model alone). Every trial measures the raw ping-pong of each
placement, then runs every setting, in an order rotated from trial to trial, so a drift of
the machine weighs on all alike.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import timeit

import psutil

from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from kernel_model.genode.fastcore import FastCore
from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.bench.pingpong import round_trip_us
from testbed.harness.run import RunOptions, run
from testbed.harness.supervisor import Snapshot
from testbed.ipc.native import Bitmap, address_of
from testbed.scenarios.genode_race import SCENARIO as RACE

CORES = ("python", "c")
RECORD = (False, True)
# bitalloc first: the harness takes the first variant when --variant is not given
VARIANTS = ("bitalloc", *(v for v in RACE.variants if v != "bitalloc"))


class CpuMeter:
    """CPU time (user + system) of the run's processes a creation, between the run's first
    and last progress snapshots (every 0.25 s): what a setting costs, which the load of other
    work on the machine changes far less than the creations it leaves a second."""

    def __init__(self):
        self.points: list[tuple[int, float]] = []
        self._pids: set[int] | None = None  # the processes of the first snapshot
        self._done = False

    def __call__(self, snap: Snapshot) -> None:
        if self._done:
            return
        times = {}
        for proc in psutil.Process().children(recursive=True):  # core, actors, forkserver
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            times[proc.pid] = t.user + t.system
        if self._pids is None:
            self._pids = set(times)
        elif not self._pids <= set(times):  # one has ended: the run is ending, stop here
            self._done = True
            return
        self.points.append((snap.attempts, sum(times[pid] for pid in self._pids)))

    def us_a_creation(self) -> float | None:
        """CPU us a creation over the samples; None when there were fewer than two samples
        or no creation between them (nothing measured)."""
        if len(self.points) < 2:
            return None
        (n0, c0), (n1, c1) = self.points[0], self.points[-1]
        return (c1 - c0) / (n1 - n0) * 1e6 if n1 > n0 else None


def _median_of_measured(xs: list[float | None]) -> float | None:
    """The median of the trials that measured something; None if none did."""
    measured = [x for x in xs if x is not None]
    return statistics.median(measured) if measured else None


def creations_per_s(
    variant: str, pin: str, creators: int, core: str, record: bool, s: float
) -> tuple[float, float]:
    """Creations a second, and CPU microseconds a creation (all the run's processes)."""
    cfg = {"pds": 1, "creators": creators, "children": 4, "stack_size": 16 * 1024, "core": core}
    meter = CpuMeter()
    opts = RunOptions(RACE, variant, cfg, duration_s=s, pin=pin, record=record, max_traces=0)
    opts.progress = meter
    doc = run(opts)
    assert doc["verdict"] == "pass", doc["reasons"]
    return doc["creations_per_s"], meter.us_a_creation()


def model_us_a_request(n: int = 20000) -> dict[str, float]:
    """CPU time a request of core's model alone (a create/destroy cycle is four), best of 5."""
    bufs = [bytearray(8 * Bitmap.words(layout.AREA_PAGES)) for _ in range(2)]
    py = Core(1, lambda pd: Bitmap(address_of(bufs[0]), layout.AREA_PAGES), 1 << 30)
    fc = FastCore(1, [address_of(bufs[1])], 1 << 30)
    size, offset = layout.stack_ds_size(16 * 1024), layout.stack_offset(5, 16 * 1024)

    def cycle(serve):
        def f():
            _, ds = serve(Op.RAM_ALLOC, 0, size, 0, 0)
            serve(Op.ATTACH_AT, 0, ds, offset, size)
            serve(Op.DETACH, 0, offset, 0, 0)
            serve(Op.RAM_FREE, 0, ds, 0, 0)

        return f

    def per(f) -> float:
        t = timeit.repeat(f, number=n, repeat=5, timer=time.process_time)
        return min(t) / n / 4 * 1e6

    return {"python": per(cycle(py.serve)), "c": per(cycle(fc.serve))}


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    """Trials outermost: each trial the raw ping-pongs, then every setting, rotated."""
    pins, creators = list(p["pins"]), list(p["creators"])
    load_before = os.getloadavg()
    settings = [
        (pin, k, core, rec) for pin in pins for k in creators for core in CORES for rec in RECORD
    ]
    raw: dict[str, list[float]] = {pin: [] for pin in pins}
    rates: dict[tuple, list[float]] = {s: [] for s in settings}
    cpu: dict[tuple, list[float]] = {s: [] for s in settings}  # CPU us a creation
    t0 = time.monotonic()
    for trial in range(p.trials):
        for pin in pins:
            raw[pin].append(round_trip_us(p["calls"], pin))
        shift = trial * len(settings) // max(p.trials, 1)
        for s in settings[shift:] + settings[:shift]:
            rate, us = creations_per_s(p.variant, *s, p.seconds)
            rates[s].append(rate)
            cpu[s].append(us)
            cpu_text = "CPU not measured" if us is None else f"{us:.1f} us CPU a creation"
            log(f"trial {trial + 1}/{p.trials}: {s} {rate:,.0f}/s, {cpu_text}")
    model = model_us_a_request(p["model_requests"])
    log(f"core's model alone: python {model['python']:.2f} us, C {model['c']:.2f} us")

    rows = []
    for pin, k, core, rec in settings:
        rate = statistics.median(rates[(pin, k, core, rec)])
        raw_us = statistics.median(raw[pin])
        cycle_us = 1e6 / rate
        rows.append({
            "pin": pin, "creators": k, "core": core, "record": rec,
            "creations_per_s": rate, "min": min(rates[(pin, k, core, rec)]),
            "max": max(rates[(pin, k, core, rec)]), "cycle_us": cycle_us,
            "raw_round_trip_us": raw_us, "efficiency": cycle_us / (4 * raw_us),
            "cpu_us_a_creation": _median_of_measured(cpu[(pin, k, core, rec)]),
            "cpu_why": None if _median_of_measured(cpu[(pin, k, core, rec)]) is not None
            else "not measured: no trial saw two CPU samples with creations between them "
            "(the run ended first; give it more --seconds)",
        })  # fmt: skip
    by = {(r["pin"], r["creators"], r["core"], r["record"]): r for r in rows}

    def paired(num: tuple, den: tuple) -> dict[str, float]:
        """Ratio of two settings trial by trial (run next to each other), then the median:
        a drift of the machine between trials cancels out."""
        xs = [a / b for a, b in zip(rates[num], rates[den], strict=True)]
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}

    def cpu_paired(num: tuple, den: tuple) -> dict[str, float] | None:
        xs = [a / b for a, b in zip(cpu[num], cpu[den], strict=True) if a and b]
        if not xs:  # no trial measured both: null, not NaN
            return None
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}

    ratios = {
        f"{pin}/{k}": {
            "c_over_python_off": paired((pin, k, "c", False), (pin, k, "python", False)),
            "c_over_python_on": paired((pin, k, "c", True), (pin, k, "python", True)),
            "on_over_off_python": paired((pin, k, "python", True), (pin, k, "python", False)),
            "on_over_off_c": paired((pin, k, "c", True), (pin, k, "c", False)),
            # recording's cost in CPU time a creation (on / off), paired
            "cpu_on_over_off_c": cpu_paired((pin, k, "c", True), (pin, k, "c", False)),
        }
        for pin in pins
        for k in creators
    }

    cells = []
    for pin in pins:
        for k in creators:
            for core in CORES:
                off, on = by[(pin, k, core, False)], by[(pin, k, core, True)]
                py_off = by[(pin, k, "python", False)]["creations_per_s"]
                cells.append([
                    pin, str(k), f"{off['raw_round_trip_us']:.1f} us", core,
                    f"{off['creations_per_s']:,.0f}", f"{on['creations_per_s']:,.0f}",
                    f"{on['creations_per_s'] / off['creations_per_s']:.2f}",
                    f"{off['cycle_us']:.1f} us", f"{off['efficiency']:.2f}",
                    f"{off['creations_per_s'] / py_off:.2f}",
                    " / ".join("-" if x["cpu_us_a_creation"] is None
                               else f"{x['cpu_us_a_creation']:.1f}" for x in (off, on)),
                ])  # fmt: skip
    load_after = os.getloadavg()
    t1 = Table(
        f"genode-race {p.variant}: cycle / (4 x raw ping-pong), median of "
        f"{p.trials} trials of {p.seconds:g} s",
        ["pin", "creators", "raw rt", "core", "creations/s off", "creations/s on",
         "on / off", "cycle off", "cycle / 4 raw (off)", "C / python (off)",
         "CPU us a creation off / on"],
        cells,
        f"load average before {load_before[0]:.1f}, after {load_after[0]:.1f}; "
        f"{time.monotonic() - t0:.0f} s",
    )  # fmt: skip
    t2 = Table(
        "paired ratios of creations/s, median [min-max] of the trials' ratios",
        ["pin", "creators", "C / python, off", "C / python, on", "on / off, python",
         "on / off, C", "CPU a creation on / off, C"],
        [
            [*key.split("/"), *("not measured" if x is None
                                else f"{x['median']:.2f} [{x['min']:.2f}-{x['max']:.2f}]"
                                for x in r.values())]
            for key, r in ratios.items()
        ],
        f"core's model alone, CPU time a request: python {model['python']:.2f} us, "
        f"C {model['c']:.2f} us ({model['python'] / model['c']:.1f}x)",
    )  # fmt: skip
    doc = {
        "variant": p.variant,
        "trials": p.trials,
        "seconds": p.seconds,
        "raw_round_trip_us": raw,
        "rates": [
            {"setting": list(s), "creations_per_s": v, "cpu_us_a_creation": cpu[s]}
            for s, v in rates.items()
        ],
        "rows": rows,
        "paired_ratios": ratios,
        "model_us_a_request": model,
        "load_average": {"before": list(load_before), "after": list(load_after)},
    }
    return doc, [t1, t2]


BENCH = Bench(
    "cycle_efficiency",
    "genode-race create/destroy cycles against their IPC floor (4 raw ping-pongs), "
    "core in Python and C, recording off and on",
    measure,
    profiles={
        "quick": {
            "trials": 1,
            "seconds": 0.25,
            "calls": 2000,
            "creators": [1, 2],
            "pins": ["same", "spread"],
            "model_requests": 5000,
        },
        "default": {
            "trials": 3,
            "seconds": 1.0,
            "calls": 5000,
            "creators": [1, 2, 4],
            "pins": ["same", "spread"],
            "model_requests": 20000,
        },
        "tough": {
            "trials": 5,
            "seconds": 2.0,
            "calls": 20000,
            "creators": [1, 2, 4, 8],
            "pins": ["same", "spread"],
            "model_requests": 50000,
        },
    },
    variants=VARIANTS,
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
