"""`testbed explore --workers N` and `--scheduler tcp://`: the search split across a real Dask
cluster's worker processes counts what one explorer counts, and brings its failures' traces
home. The programs are a user's files, from a temporary directory."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
from conftest import explore, run_cli, user_files

from testbed.explorer.distributed import split
from testbed.explorer.reduction import Footprint
from testbed.explorer.strategies.dfs import Node
from testbed.ipc import names

DASK = str(Path(sys.executable).parent / "dask")
COUNTED = ("schedules", "pruned", "sleep_blocked", "distinct_schedules", "steps", "outcomes")


def _orphans() -> set[str]:
    """Named objects whose creator is gone (others' live runs may share the machine)."""
    return {
        o.prefix for o in names.leftovers() if not psutil.pid_exists(int(o.prefix.split(".")[1]))
    }


def test_two_workers_count_what_one_counts(tmp_path):
    """`twice` (two actors, two increments of word 0 each, then a done counter) with no bound
    and sleep sets: 104 schedules and 2 sleep-blocked (counted apart), alone (docs/explore.md's table).
    Split across two worker processes, the same schedules, pruned branches, sleep-blocked
    schedules, steps and outcomes, and the search was split (more than one unit, both
    workers ran some)."""
    user_files(tmp_path, "words.py")
    before = _orphans()
    args = ("--variant", "twice", "--points", "access", "--preemptions", "none",
            "--reduction", "sleep-sets", "--max-failures", "0")  # fmt: skip
    code1, one = explore(tmp_path, "words.py", *args)
    code2, two = explore(tmp_path, "words.py", *args, "--workers", "2")
    assert (code1, one["schedules"], one["sleep_blocked"]) == (0, 104, 2)
    assert code2 == 0 and two["complete"] and two["verdict"] == "pass"
    assert {k: two[k] for k in COUNTED} == {k: one[k] for k in COUNTED}
    assert two["workers"] == 2 and two["units"] > 1
    assert sum(two["per_worker"].values()) == 104
    # on one CPU each (auto), worker k on the k-th usable CPU: two CPUs, two workers apart
    cpus = list(two["worker_cpus"].values())
    assert None not in cpus and set(cpus) <= os.sched_getaffinity(0)
    if len(os.sched_getaffinity(0)) >= len(cpus):
        assert len(set(cpus)) == len(cpus), two["worker_cpus"]
    assert _orphans() <= before  # every worker's processes and named objects gone


def test_a_failure_found_by_a_worker_comes_home_and_replays(tmp_path):
    """`shared` loses an increment in some schedule: the worker that finds it sends its
    trace back whole, the coordinator writes it in --trace-dir, and it replays."""
    user_files(tmp_path, "tiny.py")
    code, doc = explore(tmp_path, "tiny.py", "--variant", "shared", "--workers", "2",
                        "--trace-dir", "found")  # fmt: skip
    assert (code, doc["verdict"]) == (1, "fail")
    (f,) = doc["failures"]
    assert f["outcome"] == "lost_update" and f["trace_file"].startswith("found/")
    assert (tmp_path / f["trace_file"]).exists()
    rcode, replayed, err = run_cli(
        tmp_path, "replay", "--trust-source", f["trace_file"], "--json", "-"
    )
    assert rcode == 0 and replayed["replay"]["reproduced"], err


def test_an_existing_scheduler_gives_the_same_counts(tmp_path):
    """`dask scheduler` and two `dask worker`s started here; `--scheduler tcp://...`."""
    from distributed import Client

    user_files(tmp_path, "words.py")
    sched_file = tmp_path / "scheduler.json"
    start = lambda args: subprocess.Popen(  # noqa: E731
        [DASK, *args], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    procs = [start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(sched_file)])]  # fmt: skip
    procs += [
        start(["worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
               "--no-dashboard", "--name", f"w{k}"])
        for k in range(2)
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sched_file.read_text())["address"]
        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        code, doc = explore(tmp_path, str(tmp_path / "words.py"), "--variant", "same",
                            "--points", "access", "--reduction", "sleep-sets",
                            "--scheduler", address)  # fmt: skip
        assert (code, doc["schedules"], doc["pruned"], doc["complete"]) == (0, 4, 1, True)
        assert doc["scheduler"] == address and doc["workers"] == 2
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)


def _node(enabled, tried, current=None, sleep=None) -> Node:
    fp = Footprint(frozenset({("w", 0)}))
    return Node(tuple(enabled), current, 0, dict(sleep or {}), list(tried),
                {a: fp for a in tried})  # fmt: skip


def test_a_split_covers_the_untried_siblings_once():
    """A stack of three nodes, floor 0: node 0 tried t0 (t1 and t2 left), node 1 tried t1
    (nothing left: t0 sleeps there), node 2 has just taken t0. The split: node 0 with t1 next
    (floor 0: it goes on to t2), and the top's branch with the top as its floor; nothing
    from node 1, whose only other choice sleeps."""
    asleep = {0: Footprint(frozenset())}
    stack = [_node((0, 1, 2), [0]), _node((0, 1), [1], 0, asleep), _node((0,), [0], 1)]
    parts = split(copy.deepcopy(stack), 0, None)
    assert [(len(s), floor, s[-1].tried) for s, floor in parts] == [(1, 0, [0, 1]), (3, 2, [0])]
    assert parts[0][0][0].footprints == stack[0].footprints  # t1's sleep set: as in one search


def test_dpor_splits_across_workers(tmp_path):
    """The default (bounded DPOR) split: the eager top tried in full, DPOR below each prefix,
    so one worker and two count the same, and the verdict is one explorer's. No bound: DPOR
    with two workers counts `twice`'s 104 (two actors: the eager top adds nothing). A failure
    under DPOR and workers: test_a_failure_found_by_a_worker_comes_home_and_replays."""
    user_files(tmp_path, "words.py")
    args = ("--variant", "twice", "--points", "access", "--max-failures", "0")
    code0, alone = explore(tmp_path, "words.py", *args)
    code1, one = explore(tmp_path, "words.py", *args, "--workers", "1")
    code2, two = explore(tmp_path, "words.py", *args, "--workers", "2")
    assert code0 == code1 == code2 == 0 and alone["complete"] and two["complete"]
    assert alone["verdict"] == one["verdict"] == two["verdict"] == "pass"
    assert {k: two[k] for k in COUNTED} == {k: one[k] for k in COUNTED}
    assert two["reduction"] == "dpor" and "one round at the bound" in two["split"]
    assert sum(two["per_worker"].values()) == two["schedules"]
    code, unbounded = explore(tmp_path, "words.py", *args, "--preemptions", "none",
                              "--workers", "2")  # fmt: skip
    assert (code, unbounded["schedules"], unbounded["complete"]) == (0, 104, True)


def test_a_sampler_splits_its_budget_by_seeds(tmp_path):
    """A sampler's budget in units of their own seeds: 120 schedules (50 + 50 + 20), the
    verdict one explorer gives (exit 4: samplers never complete)."""
    user_files(tmp_path, "words.py")
    sample = ("--variant", "twice", "--points", "access", "--strategy", "pos",
              "--max-schedules", "120")  # fmt: skip
    code_a, alone = explore(tmp_path, "words.py", *sample)
    code_w, split = explore(tmp_path, "words.py", *sample, "--workers", "2")
    assert code_a == code_w == 4 and alone["verdict"] == split["verdict"] == "incomplete"
    assert split["schedules"] == 120 and split["units"] == 3
    assert sum(split["per_worker"].values()) == 120 and "seed" in split["split"]
