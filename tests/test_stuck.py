"""Nothing hangs, and an abort names its root cause: a stopped actor or core, a stopped or
vanished lock holder (named from the lock's holder word), failures in the order they came."""

from __future__ import annotations

import pytest
from conftest import cli, user_files


@pytest.fixture
def stuck(tmp_path) -> str:
    return str(user_files(tmp_path, "stuck.py") / "stuck.py")


def run(ref: str, variant: str, *extra: str):
    r = cli("stress", ref, "--variant", variant, "--lock-timeout", "1", *extra, timeout=60)
    assert r.code == 3, r.out + r.err
    assert r.doc["verdict"] == "aborted"
    return r.doc["reasons"]


@pytest.mark.parametrize("mode", [("--rounds", "1"), ("--duration", "0.2")])
def test_a_stopped_actor_holding_nothing_ends_the_run_with_exit_3(stuck, mode):
    reasons = run(stuck, "stop-idle", *mode)
    assert "pd0.a (pid " in reasons[0] and "is stopped" in reasons[0], reasons
    assert "last seen at its start" in reasons[0] or "point" in reasons[0]


def test_a_stopped_lock_holder_is_named_before_its_waiter(stuck):
    reasons = run(stuck, "stop-holder", "--rounds", "1")
    assert "pd0.a (pid " in reasons[0] and "is stopped" in reasons[0], reasons
    assert "holding lock L" in reasons[0] and "last seen at point 'hold'" in reasons[0]
    waiter = [r for r in reasons if r.startswith("pd0.b")]
    assert all("held by pd0.a" in r for r in waiter), reasons


def test_a_lock_left_taken_is_named_with_its_holder(stuck):
    reasons = run(stuck, "exit-holding", "--rounds", "1")
    assert reasons[0].startswith("pd0.b (pid "), reasons
    assert "LockTimeout" in reasons[0] and "lock" in reasons[0] and "held by pd0.a" in reasons[0]


def test_a_stopped_core_is_named_not_its_waiters(stuck):
    reasons = run(stuck, "stop-core", "--rounds", "1")
    assert reasons[0].startswith("core (pid ") and "is stopped" in reasons[0], reasons
