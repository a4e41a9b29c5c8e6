"""Native actors (issue 21): a user's C scenario in a directory of its own, compiled with the
system compiler and run in real processes; its races found by stress at access points and by
explore, its traces replayed; compile errors and undeclared names refused, naming them; the
litmus scenario's fenced SB never relaxed. Compiled libraries go to a cache dir of this
module's own (XDG_CACHE_HOME), never into the user's directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import cli, explore, native_cache, run_cli, scenario_text, user_files, vary

import testbed
from testbed.native import build

RACE = ("--pin", "same", "--perturb", "yield:1", "--seed", "3")


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory) -> Path:
    """A compile cache of this module's own (the CLI's children inherit it)."""
    yield from native_cache(tmp_path_factory)


@pytest.fixture(scope="module")
def user(tmp_path_factory) -> Path:
    """The user's directory: a scenario file and its C source, nothing else."""
    return user_files(tmp_path_factory.mktemp("user"), "claim_c.c", "claim_c.py")


def _files(d: Path) -> set[str]:
    return {str(p.relative_to(d)) for p in d.rglob("*") if "traces" not in p.parts}


def test_a_c_scenario_runs_counts_and_leaves_nothing_in_the_users_directory(user, cache):
    r = cli("stress", str(user / "claim_c.py"), "--variant", "locked", "--rounds", "300", *RACE)
    assert r.code == 0, r.err
    assert r.doc["outcomes"]["stolen"] == 0
    assert r.doc["outcomes"]["claimed"] + r.doc["outcomes"]["busy"] == 600
    assert _files(user) == {"claim_c.c", "claim_c.py"}
    assert len(list(cache.glob("*.so"))) >= 1 and not list(cache.glob("*.tmp"))


def test_the_c_race_is_found_at_access_points_and_its_trace_replays(user, tmp_path):
    traces = tmp_path / "traces"
    r = cli(
        "stress", str(user / "claim_c.py"), "--variant", "racy", "--duration", "60",
        "--max-failures", "1", "--points", "access", "--trace-dir", str(traces), *RACE,
    )  # fmt: skip
    assert r.code == 1, r.err
    assert r.doc["outcomes"]["stolen"] >= 1 and r.doc["verdict"] == "fail"
    (trace,) = r.doc["trace_files"]
    steps = [e["point"] for e in json.loads(Path(trace).read_text())["events"]]
    assert "slot[0].r" in steps and "slot[0].w" in steps  # tb_load/tb_store as points
    again = cli("replay", "--trust-source", trace, "--json", "-")
    assert again.code == 0, again.err
    assert json.loads(again.out[again.out.index("{") :])["replay"]["reproduced"] == 1


def test_explore_finds_the_c_lost_update_and_counts_as_the_python_one(user):
    """`bump` is the tiny scenario's increment (tests/scenarios/tiny.py) in C: the same schedule counts (by
    hand there: 1 preemption, no reduction, 4 schedules, 2 lost), and a found failure's
    trace replays."""
    code, doc = explore(
        user, "claim_c.py", "--variant", "shared", "--preemptions", "1", "--no-reduce",
        "--max-failures", "0",
    )  # fmt: skip
    assert (doc["schedules"], doc["complete"], code) == (4, True, 1)
    assert doc["outcomes"] == {"claimed": 2, "busy": 0, "stolen": 2} and doc["steps"] == 16
    code, replayed, err = run_cli(
        user, "replay", "--trust-source", doc["failures"][0]["trace_file"], "--json", "-"
    )
    assert code == 0 and replayed["replay"]["reproduced"], err
    code, doc = explore(
        user, "claim_c.py", "--variant", "apart", "--preemptions", "2", "--no-reduce"
    )
    assert (code, doc["complete"], doc["schedules"], doc["failures"]) == (0, True, 6, [])


def test_explore_at_access_points_finds_the_claim_race_and_proves_the_lock(user):
    code, doc = explore(user, "claim_c.py", "--variant", "racy", "--points", "access")
    assert code == 1 and doc["failures"][0]["outcome"] == "stolen"
    code, doc = explore(user, "claim_c.py", "--variant", "locked", "--points", "access")
    assert (code, doc["complete"]) == (0, True) and doc["outcomes"].get("stolen", 0) == 0


def test_c_sees_identity_params_regions_atomics_and_core(user, no_leftovers):
    result = testbed.run(
        f"{user / 'claim_c.py'}:PROBE", variant="racy", rounds=1, body="probe", seed=1
    )
    assert result.exit_code == 0, result.document["reasons"]
    probe = result.document["probe"]
    for k in (0, 1):
        mine = probe[8 * k : 8 * k + 8]
        assert mine == [100 + k, 10 + k, 77, 24, 7, 5006, 1, ord("r")]
    assert sum(probe[16:18]) == 1  # one of the two CAS from 0 won, once


@pytest.mark.parametrize(
    "body, message",
    [
        ("bad_region", "region 'nowhere' is not declared by regions(config): slot, probe"),
        ("bad_outcome", "outcome 'nothing' is not declared by outcomes: claimed, busy, stolen"),
        ("no_such_function", "ConfigError: env.native('no_such_function'): no function"),
    ],
)
def test_an_undeclared_name_fails_the_actor_naming_it(user, body, message):
    r = cli(
        "stress", str(user / "claim_c.py"), "--variant", "locked", "--rounds", "2", "--body", body
    )
    assert r.code == 3, r.err
    assert any(message in reason for reason in r.doc["reasons"]), r.doc["reasons"]


def test_an_outcome_detected_at_a_point_and_the_cs_own_error(user):
    r = cli(
        "stress", str(user / "claim_c.py"), "--variant", "locked", "--rounds", "1",
        "--body", "stolen_at_set", "--max-traces", "0",
    )  # fmt: skip
    assert r.code == 1 and r.doc["detected_at"] == {"stolen": "claim.set"}, r.err
    r = cli(
        "stress", str(user / "claim_c.py"), "--variant", "locked", "--rounds", "1",
        "--body", "own_error",
    )  # fmt: skip
    assert r.code == 3, r.err
    # both actors fail so; whichever the runner saw first leads the reasons
    assert any(
        f"{a}: NativeError: {a}: the slot's invariant broke" in x
        for x in r.doc["reasons"]
        for a in ("a0", "a1")
    ), r.doc["reasons"]


def test_an_address_outside_the_regions_fails_at_access_points(user):
    r = cli(
        "stress", str(user / "claim_c.py"), "--variant", "locked", "--rounds", "1",
        "--body", "bad_address", "--points", "access",
    )  # fmt: skip
    assert r.code == 3 and any("in no declared region" in x for x in r.doc["reasons"])


def test_a_compile_error_exits_2_with_the_compilers_message(tmp_path):
    user_files(tmp_path, "claim_c.py")  # and a C source that does not compile beside it
    (tmp_path / "claim_c.c").write_text(
        vary(scenario_text("claim_c.c"), "int free =", "int free = undeclared_x +")
    )
    r = cli("stress", str(tmp_path / "claim_c.py"), "--variant", "locked", "--rounds", "1")
    assert r.code == 2 and r.doc is None, r.out
    assert f"native source {tmp_path / 'claim_c.c'} does not compile" in r.err
    assert "undeclared_x" in r.err and "Traceback" not in r.err
    assert _files(tmp_path) == {"claim_c.c", "claim_c.py"}


def test_a_missing_compiler_or_source_exits_2_naming_it(user, tmp_path):
    env = dict(os.environ, CC="/nonexistent/cc-xyz")
    code, _, err = _cli_env(
        user, env, "stress", "claim_c.py", "--variant", "locked", "--rounds", "1"
    )
    assert code == 2 and "/nonexistent/cc-xyz" in err and "C compiler" in err
    user_files(tmp_path, "claim_c.py")  # and no claim_c.c beside it
    r = cli("stress", str(tmp_path / "claim_c.py"), "--variant", "locked", "--rounds", "1")
    assert r.code == 2 and f"{tmp_path / 'claim_c.c'}: no such file" in r.err


def _cli_env(cwd: Path, env: dict, *args: str) -> tuple[int, str, str]:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "testbed.cli", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def test_the_cache_compiles_once_and_again_when_a_source_changes(tmp_path, cache):
    user_files(tmp_path, "claim_c.c", "claim_c.py")
    from testbed.harness import loader

    module = loader.file_module((tmp_path / "claim_c.py").resolve())
    first = build.library(module.SCENARIO)
    stamp = first.stat().st_mtime_ns
    assert build.library(module.SCENARIO) == first and first.stat().st_mtime_ns == stamp
    (tmp_path / "claim_c.c").write_text(scenario_text("claim_c.c") + "\nint extra_symbol;\n")
    second = build.library(module.SCENARIO)
    assert second != first and second.parent == cache


def test_native_include_holds_the_header():
    header = testbed.native_include() / "testbed.h"
    text = header.read_text()
    for name in ("tb_region", "tb_region_words", "tb_actor_index", "tb_actor_name", "tb_variant",
                 "tb_param", "tb_outcome", "tb_record", "tb_point_id", "tb_point", "tb_lock_id",
                 "tb_lock", "tb_unlock", "tb_stopping", "tb_load", "tb_store", "tb_cas",
                 "tb_fetch_add", "tb_core_call"):  # fmt: skip
        assert f" {name}(tb_env *" in text or f"*{name}(tb_env *" in text, name


def test_litmus_fenced_sb_is_never_relaxed_and_access_points_fence_every_access():
    """Both must hold on any machine: a full fence between store and load forbids r0 = r1 = 0,
    and at --points access every tb_load/tb_store is a sequentially consistent access.
    `--rounds` counts the iterations (one a round of the start gate, the arbiter judging)."""
    r = cli("stress", "litmus", "--variant", "sb-fenced", "--rounds", "20000", "--pin", "spread")
    assert r.code == 0, r.err
    assert r.doc["outcomes"] == {"relaxed": 0, "interleaved": 20000}
    assert r.doc["iterations"] == 20000
    r = cli("stress", "litmus", "--variant", "sb-relaxed", "--rounds", "2000", "--points", "access")
    assert r.code == 0, r.err
    assert r.doc["outcomes"] == {"relaxed": 0, "interleaved": 2000}


def test_litmus_mp_counts_every_iteration():
    r = cli("stress", "litmus", "--variant", "mp-fenced", "--rounds", "5000")
    assert r.code == 0 and r.doc["outcomes"] == {"relaxed": 0, "interleaved": 5000}, r.err


def test_explore_of_litmus_at_access_points_never_relaxes(no_leftovers):
    """One actor at a time: each actor's bounded wait for the other ends, and no schedule
    of sequentially consistent accesses gives r0 = r1 = 0."""
    result = testbed.explore("litmus", variant="sb-fenced", points="access", seed=1)
    assert result.exit_code == 0 and result.document["complete"], result.document["reasons"]
    assert result.document["outcomes"]["relaxed"] == 0
    assert result.document["outcomes"]["interleaved"] >= 2


def test_a_scenario_without_native_sources_compiles_nothing(tmp_path, cache):
    before = set(cache.glob("*.so")) if cache.exists() else set()
    text = vary(scenario_text("claim_c.py"), 'native = "claim_c.c"', "")
    (tmp_path / "plain.py").write_text(text)
    from testbed.harness import loader

    loader.load(str((tmp_path / "plain.py").resolve()))
    assert (set(cache.glob("*.so")) if cache.exists() else set()) == before


def test_a_native_actor_reaches_no_other_pds_own_region(tmp_path):
    """C reaches regions by name too (tb_region): another PD's own is refused, naming it."""
    text = vary(scenario_text("claim_c.py"), '{"weight": 10 + i}', '{"weight": 10 + i, "pd": i}')
    text = vary(
        text,
        "    def regions(",
        '    def pd_owned(self, config):\n        return {"slot": 0}\n\n    def regions(',
    )
    user_files(tmp_path, "claim_c.c")
    (tmp_path / "claim_c.py").write_text(text)
    r = cli("stress", str(tmp_path / "claim_c.py"), "--variant", "racy", "--rounds", "2")
    assert r.code == 3, r.err
    want = "a1: PermissionError: region 'slot' belongs to PD 0: only PD 0's actors and core map it"
    assert any(want in reason for reason in r.doc["reasons"]), r.doc["reasons"]
