"""`testbed report RESULT.json ... --html OUT.html [--junit OUT.xml]`: reports of result
documents written earlier by stress, campaign, bench or demo."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from testbed.harness import output_paths
from testbed.harness.options import formatter
from testbed.scenario import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser(
        "report",
        help="an HTML report (and JUnit XML) of result documents",
        formatter_class=formatter,
        epilog="examples:\n  testbed report campaign.json --html campaign.html\n"
        "  testbed report bench/results/suite.json run.json --html all.html --junit all.xml\n\n"
        "exit codes: 0 written (whatever the documents' verdicts), 2 bad usage: a missing or "
        "unreadable document, an output path that cannot be written",
    )
    rp.add_argument("results", nargs="+", metavar="RESULT.json")
    rp.add_argument("--html", metavar="OUT.html", help="one self-contained HTML file")
    rp.add_argument("--junit", metavar="OUT.xml", help="JUnit XML of the stress/campaign results")


def load(path: str) -> object:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such file, expected a result document (JSON)")
    try:
        doc = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not a JSON result document ({e})") from None
    from testbed.report.html import kind

    if kind(doc) == "unknown":
        what = (
            "a trace, not a result document (`testbed show` draws a trace, `testbed replay` "
            "runs it)"
            if isinstance(doc, dict) and "events" in doc and "testbed_version" in doc
            else "not a result document"
        )
        raise ConfigError(
            f"{path}: {what}; expected the --json document of stress, explore, replay, demo, "
            "campaign or bench"
        )
    return doc


def run(args: argparse.Namespace) -> int:
    if not args.html and not args.junit:
        raise ConfigError("report: expected --html OUT.html and/or --junit OUT.xml")
    output_paths.check_writable(args.html, "--html", suffix=".html")
    output_paths.check_writable(args.junit, "--junit", suffix=".xml")
    docs = [load(p) for p in args.results]
    if args.html:
        from testbed.report.html import write_html

        write_html(docs, args.html)
        print(f"HTML report: {args.html}")
    if args.junit:
        from testbed.report.junit import write_junit

        write_junit(docs, args.junit)
        print(f"JUnit XML: {args.junit}")
    return 0
