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
from testbed.bench.pingpong import cpu_s, round_trip
from testbed.harness.run import RunOptions, run
from testbed.harness.supervisor import Snapshot
from testbed.ipc.native import Bitmap, address_of
from testbed.scenarios.genode_race import SCENARIO as RACE

CORES = ("python", "c")
RECORD = (False, True)
# bitalloc first: the harness takes the first variant when --variant is not given
VARIANTS = ("bitalloc", *(v for v in RACE.variants if v != "bitalloc"))


class CpuMeter:
    """CPU time of the run's processes a creation (to the nanosecond, bench.pingpong.cpu_s),
    between the run's first and last progress snapshots (every 0.25 s): what a setting
    costs, which the load of other work on the machine changes far less than the creations
    it leaves a second."""

    def __init__(self):
        self.points: list[tuple[int, float]] = []
        self._pids: set[int] | None = None  # the processes of the first snapshot
        self._done = False

    def __call__(self, snap: Snapshot) -> None:
        if self._done:
            return
        times = {}
        for proc in psutil.Process().children(recursive=True):  # core, actors, forkserver
            t = cpu_s(proc.pid)
            if t is not None:
                times[proc.pid] = t
        if self._pids is None:
            self._pids = set(times)
        elif not self._pids <= set(times):  # one has ended: the run is ending, stop here
            self._done = True
            return
        self.points.append((snap.attempts, sum(times[pid] for pid in self._pids)))

    def us_a_creation(self) -> float | None:
        """None if fewer than two snapshots counted creations (a run too short to tell)."""
        if len(self.points) < 2:
            return None
        (n0, c0), (n1, c1) = self.points[0], self.points[-1]
        return (c1 - c0) / (n1 - n0) * 1e6 if n1 > n0 else None


def creations_per_s(
    variant: str, pin: str, creators: int, core: str, record: bool, s: float
) -> tuple[float, float | None]:
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
    raw_cpu: dict[str, list[float | None]] = {pin: [] for pin in pins}  # CPU us a round trip
    rates: dict[tuple, list[float]] = {s: [] for s in settings}
    cpu: dict[tuple, list[float | None]] = {s: [] for s in settings}  # CPU us a creation
    t0 = time.monotonic()
    for trial in range(p.trials):
        for pin in pins:
            wall, cpu_us = round_trip(p["calls"], pin)
            raw[pin].append(wall)
            raw_cpu[pin].append(cpu_us)
        shift = trial * len(settings) // max(p.trials, 1)
        for s in settings[shift:] + settings[:shift]:
            rate, us = creations_per_s(p.variant, *s, p.seconds)
            rates[s].append(rate)
            cpu[s].append(us)
            got = f"{us:.1f} us" if us is not None else "no figure of"
            log(f"trial {trial + 1}/{p.trials}: {s} {rate:,.0f}/s, {got} CPU a creation")
    model = model_us_a_request(p["model_requests"])
    log(f"core's model alone: python {model['python']:.2f} us, C {model['c']:.2f} us")

    def spread(xs: list[float]) -> dict[str, float] | None:
        return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)} if xs else None

    def ratios_of(xs: list, ys: list) -> dict[str, float] | None:
        """x / y trial by trial (measured next to each other, so a drift of the machine
        between trials cancels out): median [min-max]; trials missing a figure left out."""
        return spread([x / y for x, y in zip(xs, ys, strict=True) if x and y])

    def cycle_over_raw(s: tuple) -> dict[str, float] | None:
        """The trial's cycle (1 / creations a second) / 4 of its raw round trips."""
        cycles = [1e6 / r if r else None for r in rates[s]]
        return ratios_of(cycles, [4 * r for r in raw[s[0]]])

    def cpu_over_raw(s: tuple) -> dict[str, float] | None:
        """The trial's CPU a creation / the CPU of 4 of its raw round trips."""
        return ratios_of(cpu[s], [4 * r if r else None for r in raw_cpu[s[0]]])

    rows = []
    for pin, k, core, rec in settings:
        s = (pin, k, core, rec)
        rate = statistics.median(rates[s])
        raw_us = statistics.median(raw[pin])
        cpus = [c for c in cpu[s] if c is not None]
        cycle_us = 1e6 / rate
        rows.append({
            "pin": pin, "creators": k, "core": core, "record": rec,
            "creations_per_s": rate, "min": min(rates[s]), "max": max(rates[s]),
            "cycle_us": cycle_us, "raw_round_trip_us": raw_us,
            "efficiency": cycle_us / (4 * raw_us),
            "efficiency_paired": cycle_over_raw(s),
            "cpu_us_a_creation": statistics.median(cpus) if cpus else None,
            "cpu_efficiency_paired": cpu_over_raw(s),
        })  # fmt: skip
    by = {(r["pin"], r["creators"], r["core"], r["record"]): r for r in rows}

    def paired(num: tuple, den: tuple) -> dict[str, float] | None:
        return ratios_of(rates[num], rates[den])

    def cpu_paired(num: tuple, den: tuple) -> dict[str, float] | None:
        """CPU a creation den / num: the throughput ratio num / den of a CPU-bound run."""
        return ratios_of(cpu[den], cpu[num])

    ratios = {
        f"{pin}/{k}": {
            "c_over_python_off": paired((pin, k, "c", False), (pin, k, "python", False)),
            "c_over_python_on": paired((pin, k, "c", True), (pin, k, "python", True)),
            "on_over_off_python": paired((pin, k, "python", True), (pin, k, "python", False)),
            "on_over_off_c": paired((pin, k, "c", True), (pin, k, "c", False)),
            # recording's cost in CPU a creation: off / on, as a throughput ratio, paired
            "cpu_on_over_off_python": cpu_paired(
                (pin, k, "python", True), (pin, k, "python", False)
            ),
            "cpu_on_over_off_c": cpu_paired((pin, k, "c", True), (pin, k, "c", False)),
        }
        for pin in pins
        for k in creators
    }

    def cell(r: dict[str, float] | None) -> str:
        return f"{r['median']:.2f} [{r['min']:.2f}-{r['max']:.2f}]" if r else "-"

    def us(x: float | None) -> str:
        return f"{x:.1f}" if x is not None else "-"

    cells = []
    for pin in pins:
        raw_cpus = [c for c in raw_cpu[pin] if c is not None]
        raw_cpu_us = f" ({statistics.median(raw_cpus):.1f} CPU)" if raw_cpus else ""
        for k in creators:
            for core in CORES:
                off, on = by[(pin, k, core, False)], by[(pin, k, core, True)]
                py_off = by[(pin, k, "python", False)]["creations_per_s"]
                cells.append([
                    pin, str(k), f"{off['raw_round_trip_us']:.1f} us{raw_cpu_us}", core,
                    f"{off['creations_per_s']:,.0f}", f"{on['creations_per_s']:,.0f}",
                    f"{off['cycle_us']:.1f} us", cell(off["efficiency_paired"]),
                    cell(off["cpu_efficiency_paired"]),
                    f"{off['creations_per_s'] / py_off:.2f}",
                    f"{us(off['cpu_us_a_creation'])} / {us(on['cpu_us_a_creation'])}",
                ])  # fmt: skip
    load_after = os.getloadavg()
    t1 = Table(
        f"genode-race {p.variant}: cycle / (4 x raw ping-pong), median of "
        f"{p.trials} trials of {p.seconds:g} s",
        ["pin", "creators", "raw rt (CPU)", "core", "creations/s off", "creations/s on",
         "cycle off", "cycle / 4 raw, off [paired]", "CPU: cycle / 4 raw, off [paired]",
         "C / python (off)", "CPU us a creation off / on"],
        cells,
        f"paired: the ratio within each trial, median [min-max] of the trials; CPU: the run's "
        f"processes' CPU a creation against the raw ping-pong's CPU (both processes), which "
        f"other work on the machine changes far less than wall clock; load average before "
        f"{load_before[0]:.1f}, after {load_after[0]:.1f}; {time.monotonic() - t0:.0f} s",
    )  # fmt: skip
    t2 = Table(
        "paired ratios of creations/s, median [min-max] of the trials' ratios",
        ["pin", "creators", "C / python, off", "C / python, on", "on / off, python",
         "on / off, C", "by CPU: on / off, python", "by CPU: on / off, C"],
        [[*key.split("/"), *(cell(x) for x in r.values())] for key, r in ratios.items()],
        f"by CPU: CPU a creation off / on (the throughput ratio of a CPU-bound run); core's "
        f"model alone, CPU time a request: python {model['python']:.2f} us, "
        f"C {model['c']:.2f} us ({model['python'] / model['c']:.1f}x)",
    )  # fmt: skip
    doc = {
        "variant": p.variant,
        "trials": p.trials,
        "seconds": p.seconds,
        "raw_round_trip_us": raw,
        "raw_round_trip_cpu_us": raw_cpu,
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
