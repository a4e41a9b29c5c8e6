"""What native actors cost and show (issue 21), in one bench run: a named `tb_point` and a
`tb_load` in C, in ns, beside the Python `env.point` and `env.words(...)[0]`, at each point
level with recording off and on; the store-buffering litmus test's relaxed outcome per
million iterations, fenced and not, with the two actors pinned apart and together; and
Genode's allocator in C (genode-race-c) against the Python one (genode-race), per pinning:
the quick fix's conflicts per million creations and time to the first, the fixed variant's
creations a second, each C figure also as a ratio to the Python one of the same run.

    testbed bench native_cost [--profile P] [--trials 3] [--seconds 2]

Each cost is the best of the trials (one actor, one round, `iterations` calls timed in the
actor's process); the litmus and Genode rows are the median of the trials (trials
outermost, every setting once a trial, so a drift of the machine weighs on all alike).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Mapping
from typing import Any

import testbed
from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.scenario import Actor, ActorEnv, Grade, Outcome, Scenario

LEVELS = {  # name -> (points, record)
    "named": ("named", False),
    "named, recorded": ("named", True),
    "access": ("access", False),
    "access, recorded": ("access", True),
}


class NativeCost(Scenario):
    name = "native-cost"
    description = "bench: a point and a load, C against Python"
    variants = {"time": "one actor times its calls"}
    outcomes = (Outcome("done", "timed", {"time": Grade.ACCEPTABLE}, failure=False),)
    points = ("p",)
    native = "native_cost.c"

    def add_arguments(self, parser) -> None:
        parser.add_argument("--iterations", type=int, default=100_000)

    def configure(self, args) -> dict[str, Any]:
        return {"iterations": testbed.in_range("--iterations", args.iterations, 1, 10**8)}

    def actors(self, config: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
        return [("t0", {})]

    def regions(self, config: Mapping[str, Any]) -> dict[str, int]:
        return {"word": 1, "out": 8}

    def run_actor(self, env: ActorEnv, actor: Actor) -> None:
        n, out = env.config["iterations"], env.words("out")
        env.native("native_cost")
        point, words = env.point, env.words("word")
        t0 = time.perf_counter_ns()
        for _ in range(n):
            point("p")
        t1 = time.perf_counter_ns()
        for _ in range(n):
            words[0]
        t2 = time.perf_counter_ns()
        out[3], out[4] = t1 - t0, t2 - t1
        env.record("done")

    def result_extra(self, shared, config: Mapping[str, Any]) -> dict[str, Any]:
        out, n = shared.words("out"), config["iterations"]
        names = ("c_point", "c_load", None, "python_point", "python_load")
        return {"ns": {k: out[i] / n for i, k in enumerate(names) if k}}


SCENARIO = NativeCost()


def costs(level: str, iterations: int, seed: int) -> dict[str, float]:
    points, record = LEVELS[level]
    result = testbed.run(
        "testbed.bench.native_cost:SCENARIO", variant="time", rounds=1, seed=seed, points=points,
        record=record, iterations=iterations, max_traces=0,
    )  # fmt: skip
    return result.document["ns"]


def litmus(variant: str, pin: str, rounds: int, seed: int) -> dict[str, Any]:
    doc = testbed.run(
        "litmus", variant=variant, rounds=rounds, pin=pin, seed=seed, max_traces=0
    ).document
    return {
        "per_million": doc["outcomes"]["relaxed"] / rounds * 1e6,
        "iterations_per_s": doc["iterations_per_s"],
    }


PINS = ("same", "spread", "none")
GENODE = {"python": "genode-race", "c": "genode-race-c"}


def genode(scenario: str, variant: str, pin: str, seconds: float, seed: int) -> dict[str, Any]:
    doc = testbed.run(
        scenario, variant=variant, pin=pin, duration=seconds, seed=seed, max_traces=0
    ).document
    return {
        "creations": doc["attempts"],
        "region_conflict": doc["outcomes"]["region_conflict"],
        "first_failure_s": doc["first_failure_s"],
        "creations_per_s": doc["creations_per_s"],
    }


def _ratio(c: float | None, python: float | None) -> float | None:
    """c / python, or None (not measured) when either is missing or zero."""
    return c / python if c and python else None


def genode_rows(p: Params, log: Log) -> dict[str, Any]:
    """quickfix and fixed, Python and C, per pinning, `p.seconds` each, trials outermost."""
    runs: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for t in range(p.trials):
        for pin in PINS:
            for variant in ("quickfix", "fixed"):
                for lang, scenario in GENODE.items():
                    runs.setdefault((pin, variant, lang), []).append(
                        genode(scenario, variant, pin, p.seconds, seed=t + 1)
                    )
        log(f"genode: trial {t + 1}/{p.trials}")
    rows: dict[str, Any] = {}
    for pin in PINS:
        row: dict[str, Any] = {}
        for lang in GENODE:
            qf, fixed = runs[(pin, "quickfix", lang)], runs[(pin, "fixed", lang)]
            firsts = [r["first_failure_s"] for r in qf if r["first_failure_s"] is not None]
            created = sum(r["creations"] for r in qf)
            row[lang] = {
                "conflicts_per_million": (
                    sum(r["region_conflict"] for r in qf) / created * 1e6 if created else None
                ),
                "trials_with_conflict": len(firsts),
                "median_first_conflict_s": statistics.median(firsts) if firsts else None,
                "fixed_creations_per_s": statistics.median(r["creations_per_s"] for r in fixed),
                "fixed_conflicts": sum(r["region_conflict"] for r in fixed),
                "runs": {"quickfix": qf, "fixed": fixed},
            }
        c, py = row["c"], row["python"]
        row["c_over_python"] = {
            "conflicts_per_million": _ratio(
                c["conflicts_per_million"], py["conflicts_per_million"]
            ),
            "first_conflict_s": _ratio(c["median_first_conflict_s"], py["median_first_conflict_s"]),
            "fixed_creations_per_s": _ratio(
                c["fixed_creations_per_s"], py["fixed_creations_per_s"]
            ),
        }
        rows[pin] = row
    return rows


def _cell(value: float | None, fmt: str, none: str = "-") -> str:
    return none if value is None else fmt.format(value)


def genode_table(p: Params, rows: dict[str, Any]) -> Table:
    cells = []
    for pin, row in rows.items():
        for lang in GENODE:
            r = row[lang]
            first = r["median_first_conflict_s"]
            cells.append([
                pin, lang,
                _cell(r["conflicts_per_million"], "{:,.0f}"),
                f"{r['trials_with_conflict']}/{p.trials}",
                _cell(first and first * 1000, "{:.1f} ms", f"none in {p.seconds:g} s"),
                f"{r['fixed_creations_per_s']:,.0f}", str(r["fixed_conflicts"]),
            ])  # fmt: skip
        ratio = row["c_over_python"]
        cells.append([
            pin, "C / Python",
            _cell(ratio["conflicts_per_million"], "{:.2f}x", "not measured"), "",
            _cell(ratio["first_conflict_s"], "{:.2f}x", "not measured"),
            _cell(ratio["fixed_creations_per_s"], "{:.2f}x", "not measured"), "",
        ])  # fmt: skip
    return Table(
        f"Genode's allocator, C (genode-race-c) against Python (genode-race), median of "
        f"{p.trials} x {p.seconds:g} s a setting",
        ["pin", "allocator", "quickfix conflicts / million", "trials with one",
         "first conflict (median)", "fixed creations/s", "fixed conflicts"],
        cells,
        "1 PD, 2 creators, 4 children a round, 16 KiB stacks, core in C for both; a ratio "
        "is C's figure over Python's of the same run ('not measured' where either has none)",
    )  # fmt: skip


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    ns: dict[str, dict[str, float]] = {}
    for t in range(p.trials):
        for level in LEVELS if t % 2 == 0 else list(LEVELS)[::-1]:
            got = costs(level, p["iterations"], seed=t + 1)
            best = ns.setdefault(level, dict(got))
            for k, v in got.items():
                best[k] = min(best[k], v)
        log(f"costs: trial {t + 1}/{p.trials}")
    sb: dict[str, list[dict[str, Any]]] = {}
    for t in range(p.trials):
        for variant in ("sb-relaxed", "sb-fenced"):
            for pin in ("spread", "same"):
                sb.setdefault(f"{variant} {pin}", []).append(
                    litmus(variant, pin, p["rounds"], seed=t + 1)
                )
        log(f"litmus: trial {t + 1}/{p.trials}")
    rows = {
        key: {
            "per_million": statistics.median(x["per_million"] for x in xs),
            "iterations_per_s": statistics.median(x["iterations_per_s"] for x in xs),
            "trials": xs,
        }
        for key, xs in sb.items()
    }
    t1 = Table(
        f"ns a call, best of {p.trials} x {p['iterations']:,} (one actor, one process)",
        ["level", "tb_point (C)", "env.point (Python)", "tb_load (C)", "words[0] (Python)"],
        [
            [level, *(f"{c[k]:.1f}" for k in ("c_point", "python_point", "c_load", "python_load"))]
            for level, c in ns.items()
        ],
        "recorded: --record (each point and, at access level, each load takes a ticket)",
    )
    t2 = Table(
        f"litmus SB: r0 = r1 = 0 per million iterations, median of {p.trials} x {p['rounds']:,}",
        ["variant", "pin", "relaxed per million", "iterations/s"],
        [
            [*key.split(), f"{r['per_million']:,.0f}", f"{r['iterations_per_s']:,.0f}"]
            for key, r in rows.items()
        ],
    )
    genode_figures = genode_rows(p, log)
    t3 = genode_table(p, genode_figures)
    return {"ns": ns, "litmus": rows, "genode": genode_figures}, [t1, t2, t3]


BENCH = Bench(
    "native_cost",
    "native actors: tb_point and tb_load against Python's point and load; the SB litmus "
    "rate; Genode's allocator in C against Python",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 0.5, "iterations": 20_000, "rounds": 5_000},
        "default": {"trials": 3, "seconds": 2.0, "iterations": 200_000, "rounds": 100_000},
        "tough": {"trials": 5, "seconds": 5.0, "iterations": 1_000_000, "rounds": 200_000},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
