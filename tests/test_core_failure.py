"""Core's own failure (its service would not build) aborts the run with core's reason, and
no traceback reaches the user."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import run_cli

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def test_core_that_does_not_build_is_named(tmp_path):
    shutil.copy(SCENARIOS / "bad_core.py", tmp_path / "bad_core.py")
    code, doc, err = run_cli(tmp_path, "stress", "bad_core.py", "--variant", "v", "--rounds",
                             "3", "--json", "-")  # fmt: skip
    assert code == 3 and doc["verdict"] == "aborted"
    assert "core (pid" in doc["reasons"][0]
    assert "core: ValueError: no such table" in doc["reasons"][0]
    assert "Traceback" not in err
