"""Reports: `testbed report` makes one self-contained HTML file that parses and holds every
figure of its JSON; JUnit XML (from `stress --junit` and `report --junit`) is read back by a
JUnit XML parser."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from conftest import cli
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
