"""The installed tool claims no generic top-level name: scenarios/ and bench/ install as
testbed.scenarios and testbed.bench, so a user's own `scenarios` or `bench` package in their
working directory does not collide with the built-ins; what is imported is declared."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points, requires

from conftest import run_cli

USER_PACKAGE = 'raise ImportError("the user\'s own {name} package was imported by the tool")\n'


def users_directory(tmp_path):
    for name in ("scenarios", "bench"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(USER_PACKAGE.format(name=name))
        (tmp_path / name / "genode_race.py").write_text(USER_PACKAGE.format(name=name))
    return tmp_path


def test_builtins_are_entry_points_under_the_tools_name():
    eps = {ep.name: ep.value for ep in entry_points(group="testbed.scenarios")}
    assert eps["genode-race"] == "testbed.scenarios.genode_race:SCENARIO"
    assert all(v.startswith("testbed.scenarios.") for v in eps.values()), eps


def test_a_users_scenarios_and_bench_packages_do_not_collide(tmp_path):
    cwd = users_directory(tmp_path)  # `python -m testbed.cli` puts the cwd first on sys.path
    proc = subprocess.run([sys.executable, "-m", "testbed.cli", "scenarios", "--json"], cwd=cwd,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "the user's own" not in proc.stderr
    listed = json.loads(proc.stdout)
    names = {s["name"] for s in listed} if isinstance(listed, list) else set(listed)
    assert {"genode-race", "rtems-isolation", "litmus"} <= names, listed
    code, doc, err = run_cli(cwd, "stress", "genode-race", "--variant", "fixed", "--rounds", "2",
                             "--json", "-")  # fmt: skip
    assert code == 0 and doc["verdict"] == "pass", err
    code, _, err = run_cli(cwd, "bench", "pingpong", "--trials", "0")  # the harness's own check
    assert code == 2 and "--trials 0: expected 1..1000" in err, err


def test_numpy_is_declared():
    assert any(r.split(">")[0].split("=")[0].strip() == "numpy" for r in requires("testbed"))
