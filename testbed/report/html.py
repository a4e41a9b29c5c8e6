"""One self-contained HTML report (no network needed to open it) of stress results, campaigns
and bench suites: outcome histograms coloured by grade, time-to-first-failure ECDFs, bench
tables and ratios, the environment; pictures are matplotlib SVG inline, the JSON embedded."""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GRADE_COLOURS = {"ACCEPTABLE": "#4caf50", "INTERESTING": "#ffb300", "FORBIDDEN": "#e53935"}
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.ACCEPTABLE { background: #c8e6c9; } td.INTERESTING { background: #ffe082; }
td.FORBIDDEN { background: #ef9a9a; } .fail { color: #c62828; font-weight: bold; }
.pass { color: #2e7d32; font-weight: bold; } .note { color: #555; font-size: 90%; }
"""


def kind(doc: Any) -> str:
    """What a result document is: bench, campaign, stress, or a list of stress runs."""
    if isinstance(doc, list):
        return "runs"
    if doc.get("kind") in ("bench", "campaign"):
        return doc["kind"]
    if "outcomes" in doc and "grades" in doc:
        return "stress"
    return "unknown"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return '<figure class="plot">' + text[text.index("<svg") :] + "</figure>"


def _table(
    columns: list[str], rows: list[list[Any]], classes: list[list[str]] | None = None
) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, c in enumerate(row):
            cls = classes[i][j] if classes and classes[i][j] else ""
            attr = f' class="{cls}"' if cls else ""
            cells.append(f"<td{attr}>{html.escape(str(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _environment(env: dict[str, Any] | None) -> str:
    if not env:
        return ""
    return "<h3>environment</h3>" + _table(["field", "value"], [[k, v] for k, v in env.items()])


def outcome_histogram(title: str, outcomes: dict[str, int], grades: dict[str, str]) -> str:
    """A horizontal bar a outcome, coloured by its grade (as jcstress's report)."""
    names = list(outcomes)
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(names) + 1))
    ax.barh(names, [outcomes[n] for n in names],
            color=[GRADE_COLOURS.get(grades.get(n, ""), "#90a4ae") for n in names])  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlabel("count")
    ax.set_title(title)
    return _svg(fig)


def ecdf(title: str, samples: dict[str, list[float]], xlabel: str) -> str:
    """Empirical CDFs of times to first failure, one step line a setting."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, xs in samples.items():
        xs = sorted(xs)
        if xs:
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=label)
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("fraction of failing runs")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    if samples:
        ax.legend(fontsize="small")
    return _svg(fig)


def _stress(doc: dict[str, Any]) -> str:
    verdict = doc.get("verdict", "")
    parts = [
        f"<h2>{html.escape(doc['scenario'])} / {html.escape(doc['variant'])}: "
        f'<span class="{"pass" if verdict == "pass" else "fail"}">{html.escape(verdict.upper())}'
        "</span></h2>",
        _table(
            ["outcome", "count", "grade"],
            [[n, c, doc["grades"][n]] for n, c in doc["outcomes"].items()],
            [["", "", doc["grades"][n]] for n in doc["outcomes"]],
        ),
        outcome_histogram(f"{doc['scenario']} / {doc['variant']}", doc["outcomes"], doc["grades"]),
        _table(
            ["figure", "value"],
            [[k, doc.get(k)] for k in ("attempts", "elapsed_s", "first_failure_s", "seed")],
        ),
    ]
    parts += [f'<p class="fail">{html.escape(r)}</p>' for r in doc.get("reasons", [])]
    parts += [f"<p>trace: <code>{html.escape(t)}</code></p>" for t in doc.get("trace_files", [])]
    return "".join(parts) + _environment(doc.get("environment"))


def _ratios(figures: Any, prefix: str = "") -> dict[str, float]:
    """Every figure named a ratio (…ratio…, …_over_…, …_vs_…) in a bench's figures."""
    found: dict[str, float] = {}
    if isinstance(figures, dict):
        items = figures.items()
    elif isinstance(figures, list):
        items = ((str(i), v) for i, v in enumerate(figures))
    else:
        return found
    for k, v in items:
        key = f"{prefix}{k}"
        if isinstance(v, int | float) and not isinstance(v, bool):
            if any(w in str(k) for w in ("ratio", "_over_", "_vs_")):
                found[key] = float(v)
        else:
            found.update(_ratios(v, key + "."))
    return found


def _bench(doc: dict[str, Any]) -> str:
    parts = [f"<h1>bench suite, profile {html.escape(str(doc.get('profile')))}</h1>"]
    for b in doc["benches"]:
        parts.append(
            f"<h2>{html.escape(b['bench'])}</h2><p>{html.escape(b.get('summary', ''))}</p>"
        )
        if b.get("error"):
            parts.append(f'<p class="fail">failed: {html.escape(b["error"])}</p>')
        for t in b.get("tables", []):
            parts.append(f"<h3>{html.escape(t['title'])}</h3>" + _table(t["columns"], t["rows"]))
            if t.get("note"):
                parts.append(f'<p class="note">{html.escape(t["note"])}</p>')
        ratios = _ratios(b.get("figures", {}))
        if ratios:
            fig, ax = plt.subplots(figsize=(7, 0.3 * len(ratios) + 1))
            ax.barh(list(ratios), list(ratios.values()), color="#5c6bc0")
            ax.axvline(1.0, color="#333", linewidth=0.8)
            ax.invert_yaxis()
            ax.set_xlabel("ratio (against the baseline of the same run)")
            ax.set_title(f"{b['bench']}: ratios")
            parts.append(_svg(fig))
    return "".join(parts) + _environment(doc.get("environment"))


def _campaign(doc: dict[str, Any]) -> str:
    parts = [f"<h1>campaign: {html.escape(', '.join(doc.get('scenarios', [])))}</h1>"]
    cols = ["scenario", "variant", "strategy", "pin", "runs", "failing", "failure rate [95%]",
            "ttff median s", "ttff q1-q3 s", "attempts to first", "rate/attempt bound",
            "retried", "lost"]  # fmt: skip
    rows, classes = [], []
    for a in doc["aggregates"]:
        lo, hi = a["run_failure_rate_wilson95"]
        q = a["first_failure_s"]
        rows.append([
            a["scenario"], a["variant"], a["strategy"], a["pin"], a["runs"], a["failing_runs"],
            f"{a['run_failure_rate']:.3f} [{lo:.3f}-{hi:.3f}]",
            "-" if q["median"] is None else f"{q['median']:.4g}",
            "-" if q["q1"] is None else f"{q['q1']:.4g}-{q['q3']:.4g}",
            "-" if a["attempts_to_first_failure"]["median"] is None
            else f"{a['attempts_to_first_failure']['median']:.0f}",
            "-" if a["rate_upper_bound_95"] is None else f"<= {a['rate_upper_bound_95']:.3g}",
            a["retried"], a["lost"],
        ])  # fmt: skip
        grade = (
            "FORBIDDEN"
            if a["forbidden_runs"]
            else ("INTERESTING" if a["failing_runs"] else "ACCEPTABLE")
        )
        classes.append(["", "", "", "", "", grade, "", "", "", "", "", "", ""])
    parts.append(_table(cols, rows, classes))
    samples = {
        f"{a['scenario']}/{a['variant']}/{a['strategy']}/{a['pin']}": a["first_failure_s"]["all"]
        for a in doc["aggregates"]
        if a["first_failure_s"]["all"]
    }
    parts.append(ecdf("time to first failure", samples, "seconds"))
    for a in doc["aggregates"]:
        if any(a["outcomes"].values()):
            parts.append(
                outcome_histogram(
                    f"{a['scenario']} / {a['variant']} / {a['strategy']} / {a['pin']}",
                    a["outcomes"], a["grades"],
                )
            )  # fmt: skip
    return "".join(parts) + _environment(doc.get("environment"))


def render(docs: list[Any]) -> str:
    body = []
    for doc in docs:
        k = kind(doc)
        if k == "bench":
            body.append(_bench(doc))
        elif k == "campaign":
            body.append(_campaign(doc))
        elif k == "stress":
            body.append(_stress(doc))
        elif k == "runs":
            body += [_stress(d) for d in doc if kind(d) == "stress"]
        else:
            body.append("<p>a result document of an unknown kind (kept in the data below)</p>")
    data = json.dumps(docs).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>testbed report</title>'
        f"<style>{STYLE}</style></head><body>{''.join(body)}"
        f'<script type="application/json" id="testbed-data">{data}</script></body></html>\n'
    )


def write_html(docs: list[Any], path: str | Path) -> Path:
    """Write the report of `docs` (result documents as loaded from JSON) to `path`."""
    path = Path(path)
    path.write_text(render(docs))
    return path
