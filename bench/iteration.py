"""The iteration's cost and its start: a 2-actor Python body (SCTBench's lost update: a
point, a read, a point, a write) run continuously (rounds) and in iterations (fresh state,
the start gate, an arbiter), in one run, trials alternating; and how close together the gate
releases the actors (the spread of their start times, median and 99th percentile).

Goals (issue 18): median spread <= 2 us when each actor has a CPU of its own (the gate
spins); iterations/s >= 1/3 of the same body's rounds/s.

    testbed bench iteration [--profile quick|default|tough] [--trials N] [--seconds S]
"""

from __future__ import annotations

import statistics
import sys

from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.harness.run import RunOptions, run
from testbed.scenario import Grade, Outcome, Scenario

A = Grade.ACCEPTABLE


class _Body(Scenario):
    variants = {"racy": "read, then write back + 1"}
    outcomes = (
        Outcome("two", "both increments landed", {"racy": A}, failure=False),
        Outcome("one", "an increment was lost", {"racy": A}, failure=False),
    )
    points = ("read", "write")

    def actors(self, config):
        return [("a", {}), ("b", {})]

    def regions(self, config):
        return {"x": 1}

    @staticmethod
    def body(env) -> None:
        x = env.words("x")
        env.point("read")
        v = x[0]
        env.point("write")
        x[0] = v + 1


class Continuous(_Body):
    name = "bench-continuous"

    def run_actor(self, env, actor):
        for _ in env.rounds():
            self.body(env)
            env.record("two")


class Iterating(_Body):
    name = "bench-iterating"
    iterate = True

    def run_actor(self, env, actor):
        self.body(env)

    def arbiter(self, env):
        env.record("two" if env.words("x")[0] == 2 else "one")


CONTINUOUS, ITERATING = Continuous(), Iterating()


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    rows = []
    for pin in p["pins"]:
        rounds, iters, medians, p99s, gate = [], [], [], [], ""
        for t in range(p.trials):
            c = run(RunOptions(CONTINUOUS, "racy", {}, seed=t + 1, duration_s=p.seconds, pin=pin))
            i = run(RunOptions(ITERATING, "racy", {}, seed=t + 1, duration_s=p.seconds, pin=pin))
            # a continuous round: both actors' rounds a second, over two (one body each)
            rounds.append(c["attempts_per_s"] / 2)
            iters.append(i["iterations_per_s"])
            spread = i["start_spread"]
            medians.append(spread["median_us"])
            p99s.append(spread["p99_us"])
            gate = i["start_gate"]
            log(
                f"pin {pin} trial {t + 1}: rounds/s {rounds[-1]:,.0f}, iterations/s "
                f"{iters[-1]:,.0f}, spread median {medians[-1]} us, p99 {p99s[-1]} us ({gate})"
            )
        r, it = statistics.median(rounds), statistics.median(iters)
        rows.append(
            {
                "pin": pin,
                "gate": gate,
                "rounds_per_s": rounds,
                "iterations_per_s": iters,
                "iterations_over_rounds": it / r,
                "spread_median_us": statistics.median(medians),
                "spread_p99_us": statistics.median(p99s),
            }
        )
    table = Table(
        f"2-actor lost-update body: medians of {p.trials} trials of {p.seconds:g} s each",
        ["pin", "gate", "rounds/s", "iterations/s", "iterations / rounds", "spread median",
         "spread p99"],
        [
            [
                r["pin"],
                r["gate"],
                f"{statistics.median(r['rounds_per_s']):,.0f}",
                f"{statistics.median(r['iterations_per_s']):,.0f}",
                f"{r['iterations_over_rounds']:.2f}",
                f"<= {r['spread_median_us']:g} us",
                f"<= {r['spread_p99_us']:g} us",
            ]
            for r in rows
        ],
        note=(
            "spread: the last actor's release to the latest first instruction of a body, "
            "a histogram of quarter octaves (each figure the upper bound of its bucket)"
        ),
    )  # fmt: skip
    return {"rows": rows}, [table]


BENCH = Bench(
    "iteration",
    "the iteration's start spread and iterations/s against a continuous run's rounds/s",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 0.5, "pins": ["spread"]},
        "default": {"trials": 3, "seconds": 2.0, "pins": ["spread", "none", "same"]},
        "tough": {"trials": 7, "seconds": 4.0, "pins": ["spread", "none", "same"]},
    },
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
