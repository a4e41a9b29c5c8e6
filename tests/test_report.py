"""Reports: `testbed report` makes one self-contained HTML file that parses and holds every
figure of its JSON; JUnit XML (from `stress --junit` and `report --junit`) is read back by a
JUnit XML parser."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from conftest import cli, explore, run_cli, user_files
from junitparser import Failure, JUnitXml


class Page(HTMLParser):
    """What a test wants of the report: cells, pictures, the embedded data, no network."""

    def __init__(self):
        super().__init__()
        self.cells: list[str] = []
        self.svgs = 0
        self.data = ""
        self.external: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svgs += 1
        if tag in ("td", "th") or (tag == "script" and a.get("id") == "testbed-data"):
            self._in = tag
        for key in ("src", "href"):
            if a.get(key, "").startswith(("http:", "https:", "//")):
                self.external.append(a[key])

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in in ("td", "th"):
            self.cells.append(data)
        elif self._in == "script":
            self.data += data


def read_page(path) -> Page:
    p = Page()
    p.feed(path.read_text())
    p.close()
    return p


def test_stress_junit_and_the_html_report_of_a_stress_run_and_a_bench(tmp_path):
    run_json, run_xml = tmp_path / "run.json", tmp_path / "run.xml"
    r = cli("stress", "genode-race", "--variant", "racy", "--pin", "same", "--duration", "0.3",
            "--seed", "3", "--require", "stack_too_large", "--trace-dir", str(tmp_path),
            "--json", str(run_json), "--junit", str(run_xml))  # fmt: skip
    assert r.code == 1, r.err  # the required outcome never comes: a failed test case
    doc = json.loads(run_json.read_text())

    xml = JUnitXml.fromfile(str(run_xml))
    (suite,) = list(xml)
    (case,) = list(suite)
    assert case.name == "genode-race[racy,same]"
    (failure,) = [x for x in case.result if isinstance(x, Failure)]
    assert "required outcome stack_too_large never seen" in failure.text
    for trace in doc["trace_files"]:
        assert f"replay: testbed replay {trace}" in failure.text
    root = ET.parse(run_xml).getroot()
    assert root.tag == "testsuites" and root[0].get("failures") == "1"

    bench_json = tmp_path / "bench.json"
    r = cli("bench", "rtems_switch", "--profile", "quick", "--json", str(bench_json), timeout=90)
    assert r.code == 0, r.err
    page_path, all_xml = tmp_path / "report.html", tmp_path / "all.xml"
    r = cli("report", str(run_json), str(bench_json), "--html", str(page_path), "--junit",
            str(all_xml))  # fmt: skip
    assert r.code == 0, r.err
    page = read_page(page_path)
    bench_doc = json.loads(bench_json.read_text())
    assert json.loads(page.data) == [doc, bench_doc]  # the whole JSON, embedded
    assert page.external == []  # opens without network access
    assert page.svgs == 2  # the outcome histogram and the bench ratios, inline SVG
    for name, count in doc["outcomes"].items():
        assert name in page.cells and str(count) in page.cells
    for table in bench_doc["benches"][0]["tables"]:
        for row in table["rows"]:
            for cell in row:
                assert cell in page.cells
    for key, value in doc["environment"].items():
        assert key in page.cells and str(value) in page.cells
    assert len(list(list(JUnitXml.fromfile(str(all_xml)))[0])) == 1  # the bench has no case


def test_report_checks_its_input(tmp_path):
    r = cli("report", str(tmp_path / "missing.json"), "--html", str(tmp_path / "x.html"))
    assert r.code == 2 and "missing.json: no such file" in r.err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    r = cli("report", str(bad), "--html", str(tmp_path / "x.html"))
    assert r.code == 2 and "not a JSON result document" in r.err
    r = cli("report", str(bad))
    assert r.code == 2 and "expected --html" in r.err
    r = cli("stress", "genode-race", "--variant", "racy", "--junit", str(tmp_path / "x.txt"))
    assert r.code == 2 and "--junit" in r.err and "ending in .xml" in r.err


def test_a_page_leads_with_its_failures_and_embeds_strict_json(tmp_path):
    """A real explore run with two failing schedules: the page's first table lists both, with
    seed, trace and replay command; a replay document of one marks it reproduced; a NaN in a
    document is embedded as null, so the data parses as strict JSON."""
    from testbed.report.html import failure_rows, write_html

    user_files(tmp_path, "tiny.py")
    code, doc = explore(tmp_path, "tiny.py", "--variant", "shared", "--max-failures", "0",
                        "--reduction", "sleep-sets")  # fmt: skip
    assert code == 1 and len(doc["failures"]) == 2
    first = doc["failures"][0]["trace_file"]
    code, replayed, _ = run_cli(tmp_path, "replay", "--trust-source", first, "--json", "-")
    assert code == 0 and replayed["replay"]["reproduced"]
    doc["elapsed_s"] = float("nan")
    page_path = write_html([doc, replayed], tmp_path / "page.html")
    text = page_path.read_text()
    assert text.index('id="failures"') < text.index("<h2>tiny / shared")  # failures come first
    rows = failure_rows([doc, replayed])
    assert [(r.outcome, r.grade, r.count, r.seed) for r in rows] == [
        ("lost_update", "FORBIDDEN", 2, 1),
        ("lost_update", "FORBIDDEN", 2, 1),
    ]
    assert {r.verified for r in rows} == {"reproduced"}  # same scenario, variant, seed, outcome
    page = read_page(page_path)
    for f in doc["failures"]:
        assert f"testbed replay {f['trace_file']}" in text
        assert f"schedule {f['schedule']}" in "".join(page.cells)

    def no_constants(name):
        raise AssertionError(f"{name} in the embedded JSON")

    data = json.loads(page.data, parse_constant=no_constants)
    assert data[0]["elapsed_s"] is None and data[0]["failures"] == doc["failures"]


def test_a_campaign_page_lists_each_failing_runs_seed_and_commands():
    """The rows of a campaign's failing runs carry the seed and the run's own command."""
    from testbed.report.html import failure_rows, render

    run_doc = {"scenario": "s", "variant": "v", "seed": 42, "verdict": "fail",
               "outcomes": {"ok": 9000, "bad": 3}, "grades": {"ok": "ACCEPTABLE",
               "bad": "FORBIDDEN"}, "reasons": ["bad seen 3 times"], "trace_files": []}  # fmt: skip
    campaign = {"kind": "campaign", "aggregates": [], "runs": [
        {"scenario": "s", "variant": "v", "strategy": "none", "pin": "same", "trial": 0,
         "seed": 42, "command": "testbed stress s --variant v --seed 42", "document": run_doc},
        {"scenario": "s", "variant": "v", "strategy": "none", "pin": "same", "trial": 1,
         "seed": 43, "command": "testbed stress s --variant v --seed 43",
         "document": {**run_doc, "seed": 43, "verdict": "pass", "outcomes": {"ok": 1}}},
    ]}  # fmt: skip
    (row,) = failure_rows([campaign])
    assert (row.seed, row.count, row.rerun) == (42, 3, "testbed stress s --variant v --seed 42")
    assert "rerun:  testbed stress s --variant v --seed 42" in render([campaign])


def test_charts_are_labelled_in_words_and_turn_logarithmic_when_far_apart():
    from testbed.report.html import ratios, wide

    figures = {
        "rows": [{"variant": "fixed", "pin": "same", "points_over_compiled_out": 0.83}],
        "switch": [{"stack_size": 4096, "stack_pages": 1, "shares": 0, "ratio": 6500.0},
                   {"stack_size": 8192, "stack_pages": 2, "shares": 0, "ratio": 3.4}],
        "checks": {"batched_vs_pure_python": 312.0, "bad_ratio": float("nan")},
    }  # fmt: skip
    assert ratios(figures) == {
        "rows, fixed, same: points / compiled out": 0.83,
        "switch, stack size 4096, stack pages 1, shares 0: ratio": 6500.0,
        "switch, stack size 8192, stack pages 2, shares 0: ratio": 3.4,
        "checks: batched vs pure python": 312.0,
    }
    assert wide([7200, 3]) and wide([6500, 3.4]) and not wide([10, 3]) and not wide([5, 0])
