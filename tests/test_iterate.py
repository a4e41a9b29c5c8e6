"""Iterating scenarios (`Scenario.iterate`): fresh state each iteration, every actor released
at the gate together, an arbiter that grades the final state; a failure's trace is its
iteration, so it replays however late it came. The scenarios are real files under
tests/scenarios/, copied to a user's directory outside the repository and loaded by path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import explore, run_cli, scenario_text, user_files, vary

import testbed
from testbed.scenario import ConfigError


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return user_files(tmp_path / "user", "lost_update.py", "two_stage.py", "stuck_body.py")


def _stress(cwd: Path, *args: str) -> tuple[int, dict]:
    code, doc, err = run_cli(cwd, "stress", *args, "--seed", "7", "--json", "-")
    assert doc is not None, err
    return code, doc


def _replay_elsewhere(trace: Path, tmp_path: Path) -> tuple[int, dict]:
    """Replay a copy of the trace from another directory, as a colleague would."""
    other = tmp_path / "elsewhere"
    other.mkdir(exist_ok=True)
    copy = other / trace.name
    shutil.copy(trace, copy)
    code, doc, err = run_cli(other, "replay", "--trust-source", copy.name, "--json", "-")
    assert doc is not None, err
    return code, doc


@pytest.mark.parametrize(
    ("scenario", "args"),
    [
        # a lost update: the window is one schedule point wide; yielding there on one CPU
        # lets the other actor in
        ("lost_update.py", ("--pin", "same", "--perturb", "yield:0.5")),
        # SCTBench's twostage: each stage atomic, the pair not (no barrier of its own)
        ("two_stage.py", ("--pin", "same", "--perturb", "yield:0.5")),
    ],
)
def test_found_under_stress_and_replayed_elsewhere(user_dir, tmp_path, scenario, args):
    code, doc = _stress(
        user_dir, scenario, "--variant", "racy", "--duration", "30", "--max-failures", "1", *args
    )
    assert code == 1 and doc["verdict"] == "fail", doc["reasons"]
    assert doc["iterations"] >= 1 and doc["start_gate"] == "block"  # one CPU: nobody spins
    trace_file = user_dir / doc["trace_files"][0]
    trace = json.loads(trace_file.read_text())
    assert trace["rounds"] == 1 and trace["iteration"] >= 0
    # the trace is its iteration: it starts at ticket 0, whatever ran before it
    assert trace["events"][0]["ticket"] == 0 and len(trace["events"]) < 50
    code, rdoc = _replay_elsewhere(trace_file, tmp_path)
    assert code == 0 and rdoc["replay"]["reproduced"], rdoc["reasons"]  # 0: reproduced


def test_fixed_variant_passes_counting_iterations(user_dir):
    code, doc = _stress(user_dir, "two_stage.py", "--variant", "fixed", "--rounds", "300")
    assert code == 0 and doc["verdict"] == "pass", doc["reasons"]
    # --rounds counts iterations; the arbiter graded each one once
    assert doc["iterations"] == 300 and doc["outcomes"] == {"consistent": 300, "torn": 0}
    spread = doc["start_spread"]
    assert spread["iterations"] == 300 and spread["median_us"] <= spread["p99_us"]


def test_a_late_failure_replays(user_dir, tmp_path):
    """Rings of 1,024 events wrap within a few dozen iterations; a failure's trace holds only
    its iteration, so one found after many iterations replays all the same."""
    code, doc = _stress(
        user_dir, "lost_update.py", "--variant", "racy", "--rounds", "3000",
        "--ring-events", "1024", "--pin", "same", "--perturb", "yield:0.5",
    )  # fmt: skip
    assert code == 1, doc["reasons"]
    assert doc["iterations"] == 3000 and doc["outcomes"]["one"] >= 1
    traces = [json.loads((user_dir / f).read_text()) for f in doc["trace_files"]]
    assert traces and all(t["complete"] for t in traces)
    latest = max(
        doc["trace_files"], key=lambda f: json.loads((user_dir / f).read_text())["iteration"]
    )
    code, rdoc = _replay_elsewhere(user_dir / latest, tmp_path)
    assert rdoc["replay"]["reproduced"], rdoc["reasons"]


def test_explore_runs_one_iteration_with_its_arbiter(user_dir):
    code, doc = explore(user_dir, "lost_update.py", "--variant", "racy")
    assert code == 1 and doc["failures"], doc
    code, doc = explore(user_dir, "lost_update.py", "--variant", "atomic")
    assert code == 0 and doc["verdict"] == "pass"


def test_an_actor_that_never_returns_is_named(user_dir):
    code, doc = _stress(
        user_dir, "stuck_body.py", "--variant", "spin", "--rounds", "100", "--lock-timeout", "1"
    )
    assert code == 3 and doc["verdict"] == "aborted"
    assert "b (pid" in doc["reasons"][0]
    assert "has not returned from its body of iteration 3" in doc["reasons"][0]


def test_a_lock_held_at_the_end_of_a_body_is_named(user_dir):
    code, doc = _stress(user_dir, "stuck_body.py", "--variant", "holds", "--rounds", "100")
    assert code == 3
    assert "returned from its body of iteration 2 holding lock L" in doc["reasons"][0]


def test_arbiter_without_iterations_is_a_config_error(tmp_path):
    src = vary(scenario_text("lost_update.py"), "iterate = True", "iterate = False")
    path = tmp_path / "continuous.py"
    path.write_text(src)
    with pytest.raises(ConfigError, match="arbiter.*needs iterations"):
        testbed.run(str(path), variant="racy", rounds=1)


@pytest.mark.parametrize(
    ("scenario", "variant", "outcome"),
    [
        ("genode-race", "quickfix", "region_conflict"),  # the creators' round, one iteration
        ("genode-mutants", "ipc_window", "region_conflict"),
        ("rtems-isolation", "smp-global", "running_foreign_access"),  # a round of switches
    ],
)
def test_builtins_iterate_and_their_traces_replay(tmp_path, scenario, variant, outcome):
    user = tmp_path / "user"
    user.mkdir()
    code, doc = _stress(
        user, scenario, "--variant", variant, "--iterate", "--duration", "20",
        "--max-failures", "1", "--pin", "same", "--require", outcome,
    )  # fmt: skip
    assert doc["outcomes"][outcome] >= 1 and doc["iterations"] >= 1, doc["reasons"]
    trace = next(
        t for t in doc["traces"] if json.loads((user / t["file"]).read_text())["outcome"] == outcome
    )
    assert trace["replayable"]
    assert json.loads((user / trace["file"]).read_text())["iteration"] >= 0
    code, rdoc = _replay_elsewhere(user / trace["file"], tmp_path)
    assert code == 0 and rdoc["replay"]["reproduced"], rdoc["reasons"]


def test_an_arbiters_bitmap_past_its_region_is_refused_naming_it(tmp_path):
    """The arbiter's env checks a bitmap's size against its region as an actor's does."""
    src = vary(
        scenario_text("lost_update.py"),
        'env.record("two" if env.words("x")[0] == 2 else "one")',
        'env.bitmap("x", 65)\n        env.record("two")',
    )
    path = tmp_path / "wide.py"
    path.write_text(src)
    code, doc = _stress(tmp_path, str(path), "--variant", "racy", "--rounds", "3")
    assert code == 3
    assert "bitmap 'x' of 65 bits: the region holds 1..64 bits" in doc["reasons"][0], doc["reasons"]
