"""The SCTBench / SV-COMP pthread ports (scenarios/sctbench/, `sct-*`), bad and good variants,
under stress (--perturb none and auto), explore (at K=2 with the default, bounded DPOR, and
with sleep sets; DPOR with no bound; every sampler of the strategies registry), `--points
access`, and frontrun (a peer: its DPOR with no bound on the threads versions of
bench/sct_threads.py, "not installed" without it), in one table: found or not, the schedules
(executions) or seconds to the first failure, and the proofs completed.

    testbed bench sctbench [--profile quick|default|tough] [--seconds S] [--variant all|PROGRAM]
"""

from __future__ import annotations

import sys

from testbed import explore, run
from testbed.bench import harness, sct_threads
from testbed.bench.harness import Bench, Log, Params, Table
from testbed.explorer.strategies import STRATEGIES
from testbed.scenarios.sctbench import PROGRAMS

NAMES = tuple(p.name for p in PROGRAMS)
PEER = "frontrun"


def _explorers() -> list[tuple[str, dict]]:
    """(column, explore's keywords): dfs bounded and unbounded, then every other strategy."""
    cols = [("K=2", {"preemptions": 2}),
            ("K=2 sleep", {"preemptions": 2, "reduction": "sleep-sets"}),
            ("dpor", {"preemptions": "none"})]  # fmt: skip
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
                peer = sct_threads.frontrun_explore(name, variant, p["max_schedules"],
                                                    max(5.0, 10 * p.seconds))  # fmt: skip
                if variant == "bad" and peer.startswith("proof"):
                    peer = f"missed ({peer})"  # a proof of a program with a bug in it
                row.append(peer)
                log("  ".join(row))
                cells[f"{name}/{variant}"] = dict(
                    zip([*(c for c, _ in cols), *(c for c, _ in _explorers()), PEER], row[2:],
                        strict=True)
                )  # fmt: skip
                rows.append(row)
    searches = [c for c, _ in _explorers()] + [PEER]
    found = {c: sum(cells[f"{n}/bad"][c].startswith("found") for n in names)
             for c in [c for c, _ in cols] + searches}  # fmt: skip
    proofs = {c: sum(cells[f"{n}/good"][c].startswith("proof") for n in names)
              for c in searches}  # fmt: skip
    peer = (
        "not installed" if not sct_threads.installed()
        else f"{found[PEER]}/{len(names)}, {proofs[PEER]} proofs"
    )  # fmt: skip
    rows.append(["bad found / good proved", "", *(f"{found[c]}/{len(names)}" for c, _ in cols),
                 *(f"{found[c]}/{len(names)}, {proofs[c]} proofs" for c, _ in _explorers()),
                 peer])  # fmt: skip
    table = Table(
        f"SCTBench ports, --points access, seed 1: stress {p.seconds:g} s a run, explore at "
        f"most {p['max_schedules']} schedules",
        ["program", "variant", *(c for c, _ in cols), *(c for c, _ in _explorers()), PEER],
        rows,
        note=(
            "found T: the first FORBIDDEN outcome (or deadlock) after T; found #N: in the "
            "N-th schedule; proof N: complete after N schedules, nothing found; - (N): nothing "
            "in N schedules (a sampler never completes); K=2: bounded DPOR (the default), "
            "K=2 sleep: sleep sets; frontrun: its DPOR, no bound, on threads versions "
            "(bench/sct_threads.py), #N its executions, missed: a proof of a bad variant"
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
