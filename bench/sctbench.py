"""The SCTBench / SV-COMP pthread ports (scenarios/sctbench/, `sct-*`), bad and good variants,
under stress (--perturb none and auto) and explore (dfs at K=2 with sleep sets, DPOR with no
bound, and every sampler of the strategies registry), `--points access`, in one table: found
or not, the schedules or seconds to the first failure, and the proofs completed.

    testbed bench sctbench [--profile quick|default|tough] [--seconds S] [--variant all|PROGRAM]

frontrun is not run: it would need a threads version of each program (bench/genode_threads.py
has one for genode-race only).
"""

from __future__ import annotations

import sys

from testbed import explore, run
from testbed.bench import harness
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.explorer.strategies import STRATEGIES
from testbed.scenarios.sctbench import PROGRAMS

NAMES = tuple(p.name for p in PROGRAMS)


def _explorers() -> list[tuple[str, dict]]:
    """(column, explore's keywords): dfs bounded and unbounded, then every other strategy."""
    cols = [("dfs K=2", {"preemptions": 2}), ("dpor", {"preemptions": "none"})]
    cols += [(s, {"strategy": s}) for s in STRATEGIES if s != "dfs"]
    return cols


def _stress(name: str, variant: str, perturb: str, p: Params, trace_dir: str) -> str:
    doc = run(name, variant=variant, perturb=perturb, points="access", seed=1,
              duration=p.seconds, max_failures=1, trace_dir=trace_dir).document  # fmt: skip
    first = doc["first_failure_s"]
    return f"found {first * 1e3:.1f} ms" if first is not None else "-"


def _explore(name: str, variant: str, kw: dict, p: Params, trace_dir: str) -> str:
    doc = explore(name, variant=variant, points="access", seed=1, trace_dir=trace_dir,
                  max_schedules=p["max_schedules"], **kw).document  # fmt: skip
    if doc["failures"]:
        return f"found #{doc['failures'][0]['schedule']}"
    if doc["complete"]:
        return f"proof {doc['schedules']}"
    return f"- ({doc['schedules']})"


def measure(p: Params, log: Log) -> tuple[dict, list[Table]]:
    import tempfile

    names = [n for n in NAMES if p.variant in (None, "all", n)]
    cols = [("stress none", "none"), ("stress auto", "auto")]
    rows, cells = [], {}
    with tempfile.TemporaryDirectory() as traces:
        for name in names:
            for variant in ("bad", "good"):
                row = [name, variant]
                for _col, perturb in cols:
                    row.append(_stress(name, variant, perturb, p, traces))
                for _col, kw in _explorers():
                    row.append(_explore(name, variant, kw, p, traces))
                log("  ".join(row))
                cells[f"{name}/{variant}"] = dict(
                    zip([c for c, _ in cols] + [c for c, _ in _explorers()], row[2:], strict=True)
                )
                rows.append(row)
    found = {c: sum(cells[f"{n}/bad"][c].startswith("found") for n in names)
             for c, _ in cols + _explorers()}  # fmt: skip
    proofs = {c: sum(cells[f"{n}/good"][c].startswith("proof") for n in names)
              for c, _ in _explorers()}  # fmt: skip
    rows.append(["bad found / good proved", "", *(f"{found[c]}/{len(names)}" for c, _ in cols),
                 *(f"{found[c]}/{len(names)}, {proofs[c]} proofs" for c, _ in _explorers())])  # fmt: skip
    table = Table(
        f"SCTBench ports, --points access, seed 1: stress {p.seconds:g} s a run, explore at "
        f"most {p['max_schedules']} schedules",
        ["program", "variant", *(c for c, _ in cols), *(c for c, _ in _explorers())],
        rows,
        note=(
            "found T: the first FORBIDDEN outcome (or deadlock) after T; found #N: in the "
            "N-th schedule; proof N: complete after N schedules, nothing found; - (N): nothing "
            "in N schedules (a sampler never completes); frontrun: not run (no threads ports)"
        ),
    )
    return {"cells": cells, "found": found, "proofs": proofs}, [table]


BENCH = Bench(
    "sctbench",
    "SCTBench / SV-COMP pthread ports under stress and explore: found, time to it, proofs",
    measure,
    profiles={
        "quick": {"trials": 1, "seconds": 0.3, "max_schedules": 300},
        "default": {"trials": 1, "seconds": 1.0, "max_schedules": 2000},
        "tough": {"trials": 1, "seconds": 4.0, "max_schedules": 20000},
    },
    variants=("all", *NAMES),  # the default: every program
)


def main(argv: list[str] | None = None) -> int:
    return harness.main(BENCH, argv)


if __name__ == "__main__":
    sys.exit(main())
