"""A user's own scenario file, outside the repository, through every door: the CLI, the
Python API, the pytest plugin, replay; and bad scenario files refused before anything runs.

The scenario (tests/scenarios/claim.py) is a check-then-act on one shared word (two actors
claim a slot): unlocked, a schedule point sits inside the window, so `--pin same --perturb
yield:1` exposes it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli, leftovers_of, scenario_text, user_files, vary

import testbed

RACE = ("--pin", "same", "--perturb", "yield:1", "--seed", "3")


@pytest.fixture
def claim(tmp_path_factory) -> Path:
    return user_files(tmp_path_factory.mktemp("user"), "claim.py") / "claim.py"


def test_a_file_scenario_runs_from_the_cli(claim):
    r = cli("stress", str(claim), "--variant", "locked", "--rounds", "300", *RACE)
    assert r.code == 0, r.err
    assert r.doc["scenario"] == "claim" and r.doc["source"] == str(claim)
    assert r.doc["outcomes"]["stolen"] == 0
    assert r.doc["outcomes"]["claimed"] + r.doc["outcomes"]["busy"] == 600

    listing = cli("scenarios", str(claim), "--json")
    assert listing.code == 0
    (desc,) = json.loads(listing.out)
    assert desc["points"] == ["claim.check", "claim.set"]
    assert desc["outcomes"][2]["grades"] == {"racy": "FORBIDDEN", "locked": "FORBIDDEN"}


def test_a_race_in_a_file_is_found_and_its_trace_replays_from_anywhere(claim, tmp_path):
    traces = tmp_path / "traces"
    r = cli(
        "stress", str(claim), "--variant", "racy", "--duration", "60", "--max-failures", "1",
        "--trace-dir", str(traces), *RACE,
    )  # fmt: skip
    assert r.code == 1, r.err
    assert r.doc["outcomes"]["stolen"] >= 1 and r.doc["verdict"] == "fail"
    (trace,) = r.doc["trace_files"]
    assert f"testbed replay {trace}" in r.out + r.err
    assert json.loads(Path(trace).read_text())["source"] == str(claim)

    again = cli("replay", "--trust-source", trace, "--json", "-")
    assert again.code == 0, again.err
    assert json.loads(again.out[again.out.index("{") :])["replay"]["reproduced"] == 1


def test_the_python_api_runs_a_file_and_refuses_bad_options(claim, no_leftovers):
    result = testbed.run(str(claim), variant="locked", rounds=100, pin="same", seed=1)
    assert result.verdict == "pass" and result.exit_code == 0
    assert result.outcomes["stolen"] == 0
    assert result.outcomes["claimed"] + result.outcomes["busy"] == 200
    result.assert_pass()

    with pytest.raises(testbed.ConfigError, match="rounds 0: expected 1"):
        testbed.run(str(claim), variant="locked", rounds=0)
    with pytest.raises(testbed.ConfigError, match="'sloppy'"):
        testbed.run(str(claim), variant="sloppy", rounds=1)
    with pytest.raises(testbed.ConfigError, match="no_such_option"):
        testbed.run(str(claim), variant="locked", no_such_option=1)


def test_the_pytest_plugin_collects_a_users_stress_file(claim, tmp_path):
    """`pytest -n 2` in the user's own directory: one item a variant, the failing one's report
    holds the command that replays it, and the passing one passes."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "stress_claim.py").write_text(
        claim.read_text()
        + '\nSTRESS = {"rounds": 3000, "pin": "same", "perturb": "yield:1", "seed": 3}\n'
    )
    (project / "conftest.py").write_text(  # which processes ran the items: for the leftover check
        "import os, pathlib\n"
        "pathlib.Path('pids').mkdir(exist_ok=True)\n"
        "pathlib.Path('pids', str(os.getpid())).touch()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "-rA", "-p", "no:cacheprovider"],
        cwd=project, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "PASSED stress_claim.py::claim[locked]" in out
    assert "FAILED stress_claim.py::claim[racy]" in out
    assert "stolen" in out and "testbed replay " in out
    assert list((project / "traces").glob("*.json"))
    for pid in (project / "pids").iterdir():
        assert leftovers_of(int(pid.name)) == []


def test_the_api_runs_a_scenario_object(no_leftovers):
    """`testbed.run` with a Scenario object defined in an importable module."""
    from testbed.scenarios.core_roundtrip import SCENARIO

    result = testbed.run(SCENARIO, variant=next(iter(SCENARIO.variants)), rounds=50, seed=1)
    assert result.verdict == "pass"
    assert result.document["scenario"] == SCENARIO.name


CLAIM = scenario_text("claim.py")
# Each case a bad scenario file and the message naming its problem. The first four are tiny
# inline snippets on purpose: the bad snippet itself is the point (a syntax error, an import
# that fails, no SCENARIO, a SCENARIO of the wrong type). The others vary the real claim.py.
BAD = {
    "syntax": ("def broken(:\n", "claim.py"),
    "import": ("import no_such_module_anywhere\n", "no_such_module_anywhere"),
    "no SCENARIO": ("X = 1\n", "SCENARIO"),
    "not a Scenario": ("SCENARIO = 42\n", "int is not a testbed.Scenario"),
    "missing grade": (
        vary(CLAIM, '"claimed the free slot and kept it", {"racy": A, "locked": A}',
             '"claimed the free slot and kept it", {"racy": A}'),
        "outcome 'claimed' has no grade for variant 'locked'",
    ),
    "outcome twice": (
        vary(CLAIM, 'Outcome("busy"', 'Outcome("claimed"'), "outcome 'claimed' declared twice"
    ),
    "point twice": (
        vary(CLAIM, '("claim.check", "claim.set")', '("claim.check", "claim.check")'),
        "schedule point 'claim.check' declared twice",
    ),
    "variant without description": (
        vary(CLAIM, '"check and claim under the slot lock"', '""'),
        "variant 'locked' has no description",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
def test_a_bad_scenario_file_exits_2_naming_the_problem(case, tmp_path):
    text, message = BAD[case]
    path = tmp_path / "claim.py"
    path.write_text(text)
    r = cli("stress", str(path), "--variant", "locked", "--rounds", "1")
    assert r.code == 2, (r.out, r.err)
    assert message in r.err and "Traceback" not in r.err


def test_a_missing_file_or_name_exits_2(claim, tmp_path):
    r = cli("stress", str(tmp_path / "nowhere.py"), "--variant", "locked")
    assert r.code == 2 and "nowhere.py" in r.err
    r = cli("stress", f"{claim}:NOPE", "--variant", "locked")
    assert r.code == 2 and "NOPE" in r.err
    assert os.path.exists(claim)
