"""bench/sct_threads.py, the SCTBench ports as threads for frontrun: each program holds its
invariant when its threads run one after another (bad and good alike: the bugs need an
interleaving); without frontrun the bench's column says so, never a figure."""

from __future__ import annotations

import sys

import pytest

from testbed.bench import sct_threads
from testbed.scenarios.sctbench import PROGRAMS


def test_the_threads_versions_are_the_scenarios_programs():
    assert set(sct_threads.PROGRAMS) == {p.name for p in PROGRAMS}


@pytest.mark.parametrize("name", sorted(sct_threads.PROGRAMS))
@pytest.mark.parametrize("bad", [True, False])
def test_one_thread_after_another_holds(name, bad):
    setup, workers, invariant = sct_threads.PROGRAMS[name](bad)
    state = setup()
    for w in workers:
        w(state)
    assert invariant(state)


def test_without_frontrun_the_column_says_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "frontrun", None)  # `import frontrun` fails
    assert not sct_threads.installed()
    assert sct_threads.frontrun_explore("sct-account", "bad", 10, 5.0) == "not installed"


def test_frontrun_finds_a_lost_update_and_proves_its_fix():
    pytest.importorskip("frontrun")
    assert sct_threads.frontrun_explore("sct-account", "bad", 50, 20.0).startswith("found #")
    assert sct_threads.frontrun_explore("sct-account", "good", 50, 20.0).startswith("proof ")
