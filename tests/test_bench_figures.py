"""Every figure a bench prints is earned: strict JSON (no NaN), no negative time, a
difference of noisy runs with its interval, null with a reason below the resolution. The
figure-making functions on real measured inputs, and real quick benches end to end."""

from __future__ import annotations

import json
import math
import time

from conftest import cli

from testbed.bench import harness


def _refuse(constant: str):
    raise ValueError(f"{constant} is not JSON")


def strict_load(text: str):
    return json.loads(text, parse_constant=_refuse)


def times_s(f, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        out.append(time.perf_counter() - t0)
    return out


def negative_times(doc, path: str = "") -> list[str]:
    """Paths of figures named as times (`..._ns`, `..._us`, `..._s`, `..._ms`) below zero."""
    if isinstance(doc, dict):
        return [p for k, v in doc.items() for p in negative_times(v, f"{path}.{k}")]
    if isinstance(doc, list):
        return [p for i, v in enumerate(doc) for p in negative_times(v, f"{path}.{i}")]
    unit = path.rsplit(".", 1)[-1].rsplit("_", 1)[-1]
    is_number = isinstance(doc, (int, float)) and not isinstance(doc, bool)
    return [path] if is_number and unit in ("ns", "us", "ms", "s") and doc < 0 else []


def test_a_clear_difference_has_its_median_and_interval():
    slow = times_s(lambda: time.sleep(0.004), 8)
    fast = times_s(lambda: None, 8)
    fig = harness.difference(slow, fast, scale=1e3)  # ms
    assert fig["value"] is not None and fig["value"] >= 4.0
    lo, hi = fig["interval95"]
    assert 4.0 <= lo <= fig["value"] <= hi and fig["coverage"] >= 0.95
    assert fig["trials"] == 8 and fig["why"] is None
    assert harness.shown(fig, unit=" ms").endswith("]") and " ms [" in harness.shown(
        fig, unit=" ms"
    )


def test_no_difference_is_below_resolution_never_a_figure():
    same = times_s(lambda: None, 6)  # a run against itself: the difference is nothing
    fig = harness.difference(same, same, scale=1e9)
    assert fig["value"] is None and "below the measurement's resolution" in fig["why"]
    assert fig["interval95"] == [0.0, 0.0] and harness.shown(fig) == "below resolution"


def test_a_negative_difference_of_one_trial_is_null_with_the_reason():
    slow = times_s(lambda: time.sleep(0.002), 1)
    fast = times_s(lambda: None, 1)
    fig = harness.difference(fast, slow, scale=1e6)  # a cost that came out negative
    assert fig["value"] is None and fig["interval95"] is None
    assert "one trial" in fig["why"] and "not above 0" in fig["why"]
    ok = harness.difference(slow, fast, scale=1e6)
    assert ok["value"] > 0 and ok["why"] == "one trial: no interval"


def test_a_nan_figure_is_made_null_with_its_reason():
    figures, why = harness.earned({"a": [1.0, math.nan], "b": {"c": math.inf, "d": 2}})
    assert figures == {"a": [1.0, None], "b": {"c": None, "d": 2}}
    assert [w["figure"] for w in why] == ["a.1", "b.c"] and "not measured" in why[0]["why"]
    strict_load(json.dumps(figures, allow_nan=False))


def test_real_quick_benches_write_strict_json_without_negative_times(tmp_path):
    out = tmp_path / "q.json"
    r = cli("bench", "pingpong", "rtems_switch", "mmu", "--profile", "quick", "--json",
            str(out), timeout=240)  # fmt: skip
    assert r.code == 0, r.err[-2000:]
    doc = strict_load(out.read_text())
    assert [b["bench"] for b in doc["benches"]] == ["pingpong", "rtems_switch", "mmu"]
    assert negative_times(doc) == []
    for b in doc["benches"]:
        assert isinstance(b["unmeasured"], list)
        for w in b["unmeasured"]:
            assert w["why"]  # a null figure says why
