"""The bench harness: every bench declared the same way, inputs checked before anything
runs (exit 2 naming the value and the range), one result envelope."""

from __future__ import annotations

import json

import pytest
from conftest import cli

from testbed import bench
from testbed.bench import harness


def test_every_bench_declares_every_profile():
    for name in bench.NAMES:
        b = bench.load(name)
        assert b.name == name
        assert set(b.profiles) == set(harness.PROFILES), name


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trials", "0"], "--trials 0: expected 1..1000"),
        (["--trials", "1001"], "--trials 1001: expected 1..1000"),
        (["--seconds", "0"], "--seconds 0: expected 0 < seconds <= 600"),
        (["--seconds", "-1"], "--seconds -1: expected 0 < seconds <= 600"),
        (["--seconds", "nan"], "--seconds nan: expected 0 < seconds <= 600"),
        (["--profile", "stress"], "--profile 'stress': expected one of quick, default, tough"),
        (["--variant", "racy"], "--variant 'racy' for bench pingpong: expected none"),
        (["--html", "out.txt"], "--html out.txt: expected a file name ending in .html"),
    ],
)
def test_bad_input_exits_2_before_anything_runs(args, message, capsys):
    from testbed.cli.main import main

    assert main(["bench", "pingpong", *args]) == 2  # in-process: nothing starts
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_unknown_bench_and_bad_variant_name_the_accepted_ones():
    r = cli("bench", "nosuch", timeout=30)
    assert r.code == 2 and "bench 'nosuch': expected one of pingpong" in r.err
    r = cli("bench", "quickfix_gap", "--variant", "nope", timeout=30)
    assert r.code == 2 and "--variant 'nope' for bench quickfix_gap: expected quickfix" in r.err
    r = cli("bench", "pingpong", "--trials", "x", timeout=30)
    assert r.code == 2 and "invalid int value: 'x'" in r.err


def test_python_m_bench_checks_the_same(tmp_path):
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, "-m", "testbed.bench.rtems_switch", "--trials", "0"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert p.returncode == 2 and "--trials 0: expected 1..1000" in p.stderr


def test_a_quick_suite_writes_one_envelope_and_its_tables(tmp_path):
    out, page = tmp_path / "b.json", tmp_path / "b.html"
    r = cli("bench", "pingpong", "rtems_switch", "--profile", "quick", "--json", str(out),
            "--html", str(page), timeout=120)  # fmt: skip
    assert r.code == 0, r.err
    doc = json.loads(out.read_text())
    assert doc["kind"] == "bench" and doc["profile"] == "quick"
    env = doc["environment"]
    for key in ("tool_version", "git_commit", "host", "cpu_count", "cpu_model", "python",
                "posix_ipc", "time", "command", "profile"):  # fmt: skip
        assert key in env, key
    assert [b["bench"] for b in doc["benches"]] == ["pingpong", "rtems_switch"]
    ping = doc["benches"][0]
    assert ping["params"]["trials"] == 1 and ping["params"]["calls"] == 2000
    assert ping["figures"]["spread_over_same"] > 0
    assert ping["tables"][0]["columns"] == ["pin", "median us", "min-max us"]
    assert len(doc["benches"][1]["figures"]["switch"]) == 15
    assert "<svg" in page.read_text()


def test_the_access_cost_lock_pairs_run():
    """access_cost's lock micro-bench builds a WatchedLock as the harness does (it fell
    behind a change of its signature once, and the quick suite stopped with a traceback)."""
    from testbed.bench import access_cost

    pairs = access_cost.lock_pairs_per_s(500)
    assert set(pairs) == {"named_lock", "watched_lock"} and all(v > 0 for v in pairs.values())


def test_a_bench_that_breaks_is_named_and_the_suite_goes_on(tmp_path, capsys):
    """A bench's own bug is a failed bench (exit 3, named, its traceback in the document),
    not a traceback that ends the suite."""

    def broken(p, log):
        raise TypeError("a bench's own bug")

    profiles = {name: {} for name in harness.PROFILES}
    bad = harness.Bench("broken", "raises", broken, profiles)
    out = tmp_path / "b.json"
    code = harness.execute([bad, bench.load("pingpong")], "quick", json_path=str(out))
    assert code == 3
    doc = json.loads(out.read_text())
    assert doc["failed"] == ["broken"]
    first, second = doc["benches"]
    assert first["error"] == "TypeError: a bench's own bug" and "Traceback" in first["traceback"]
    assert second["bench"] == "pingpong" and second["figures"]
    assert "bench broken failed: TypeError: a bench's own bug" in capsys.readouterr().err
