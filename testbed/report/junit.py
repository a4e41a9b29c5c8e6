"""JUnit XML from result documents, for CI: one test case per (scenario, variant[, strategy,
pin]), failed when a FORBIDDEN outcome was seen (or a required one missed), with the trace
files and the commands that replay them in the failure text. `stress`, `campaign` and
`explore` call `write_junit` with their documents."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from junitparser import Error, Failure, JUnitXml, Skipped, TestCase, TestSuite


def _replay_text(reasons: list[str], traces: list[str], seeds: list[int]) -> str:
    lines = [f"- {r}" for r in reasons]
    for t in traces:
        lines += [f"trace: {t}", f"replay: testbed replay {shlex.quote(t)}"]
    if not traces and seeds:
        lines.append(f"no trace written; seeds of the failing runs: {', '.join(map(str, seeds))}")
    return "\n".join(lines)


def _run_case(doc: dict[str, Any]) -> TestCase:
    """A stress (or explore) result document as one test case."""
    cfg = doc.get("config", {})
    # (scenario, variant), and the strategy and pin when they are not the defaults, so that
    # the runs of `testbed demo` (one variant on two pins) stay distinct test cases
    extra = [x for x in (cfg.get("perturb"), cfg.get("pin")) if x not in (None, "none")]
    name = f"{doc['scenario']}[{','.join([doc['variant'], *extra])}]"
    case = TestCase(name, classname=f"testbed.{doc['scenario']}")
    case.time = float(doc.get("elapsed_s") or 0.0)
    traces = list(doc.get("trace_files", []))
    if doc.get("verdict") == "fail":
        case.result = [Failure("; ".join(doc["reasons"]), "FORBIDDEN")]
        case.result[0].text = _replay_text(doc["reasons"], traces, [doc.get("seed")])
    elif doc.get("verdict") in ("aborted", "no-evidence"):  # exit 3: nothing judged
        case.result = [Error("; ".join(doc.get("reasons", [])), doc["verdict"])]
    case.system_out = f"seed {doc.get('seed')}; outcomes {doc.get('outcomes')}"
    return case


def _campaign_cases(doc: dict[str, Any]) -> list[TestCase]:
    cases = []
    for a in doc["aggregates"]:
        name = f"{a['scenario']}[{a['variant']},{a['strategy']},{a['pin']}]"
        case = TestCase(name, classname=f"testbed.campaign.{a['scenario']}")
        case.time = float(a.get("run_s", 0.0))
        failing = [
            r for r in doc["runs"]
            if r["cell"] == a["cell"] and r.get("document", {}).get("verdict") == "fail"
        ]  # fmt: skip
        if a["forbidden_runs"] or failing:
            reasons = sorted({x for r in failing for x in r["document"]["reasons"]})
            traces = [t for r in failing for t in r["document"].get("trace_files", [])]
            case.result = [Failure(f"{len(failing)} of {a['runs']} runs failed", "FORBIDDEN")]
            case.result[0].text = _replay_text(
                reasons, traces, [r["document"]["seed"] for r in failing]
            ) + "".join(f"\nrerun: {r['command']}" for r in failing[:3])
        elif a["lost"]:
            case.result = [Error(f"{a['lost']} runs lost (never finished)", "lost")]
        elif a.get("not_run"):
            case.result = [Skipped(a["not_run"])]
        case.system_out = (
            f"runs {a['runs']}, failing {a['failing_runs']}, retried {a['retried']}, "
            f"rate upper bound a attempt (95%): {a['rate_upper_bound_95']}"
        )
        cases.append(case)
    return cases


def junit_xml(docs: Iterable[Any], suite_name: str = "testbed") -> JUnitXml:
    """The JUnit XML of result documents: stress/explore documents (or lists of them) and
    campaign documents."""
    suite = TestSuite(suite_name)
    for doc in docs:
        if isinstance(doc, list):
            for d in doc:
                suite.add_testcase(_run_case(d))
        elif doc.get("kind") == "campaign":
            for case in _campaign_cases(doc):
                suite.add_testcase(case)
        elif "scenario" in doc and "variant" in doc:
            suite.add_testcase(_run_case(doc))
    xml = JUnitXml()
    xml.add_testsuite(suite)
    return xml


def write_junit(docs: Iterable[Any], path: str | Path, suite_name: str = "testbed") -> Path:
    path = Path(path)
    junit_xml(docs, suite_name).write(str(path), pretty=True)
    return path
