"""One self-contained HTML report (no network needed to open it) of stress, explore, replay,
explain, campaign and bench documents. It leads with a table of every failing run or schedule (outcome,
grade, count, seed, trace, the commands that replay and rerun it); then outcome histograms on a
scale where a few failures among thousands still show, time-to-first-failure ECDFs, bench tables
and ratio charts labelled in words; the environment; the documents embedded as strict JSON."""

from __future__ import annotations

import html
import io
import json
import math
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

from testbed.harness.loader import replay_flags

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

GRADE_COLOURS = {"ACCEPTABLE": "#4caf50", "INTERESTING": "#ffb300", "FORBIDDEN": "#e53935"}
FAILING_GRADES = ("FORBIDDEN", "INTERESTING")  # the outcomes the first table lists
LOG_WHEN_SPREAD = 20  # a chart turns logarithmic when its largest bar is this many times the least
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1400px; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
td.ACCEPTABLE { background: #c8e6c9; } td.INTERESTING { background: #ffe082; }
td.FORBIDDEN { background: #ef9a9a; } .fail { color: #c62828; font-weight: bold; }
.pass { color: #2e7d32; font-weight: bold; } .note { color: #555; font-size: 90%; }
table.failures td, table.failures th { text-align: left; }
table.failures pre { margin: 0; font-size: 85%; overflow-x: auto; max-width: 1300px; }
tr.commands td { border-top: none; background: #fafafa; }
figure.plot { margin: 0.5em 0; } figure.plot svg { max-width: 100%; height: auto; }
"""
# Set by the page itself once it has run: the check-pages target reads these from the DOM
# (the embedded JSON parsed in the browser, no script error, no resource fetched).
CHECK_SCRIPT = """
var testbedErrors = [];
window.addEventListener("error", function (e) { testbedErrors.push(e.message); });
window.addEventListener("load", function () {
  var b = document.body;
  try {
    var docs = JSON.parse(document.getElementById("testbed-data").textContent);
    b.dataset.documents = String(docs.length);
  } catch (e) { testbedErrors.push("embedded JSON: " + e); }
  if (testbedErrors.length) { b.dataset.errors = testbedErrors.join("; "); }
  b.dataset.requests = String(performance.getEntriesByType("resource").length);
  b.dataset.failureRows = String(document.querySelectorAll("table.failures tr.failure").length);
  b.dataset.rendered = "yes";
});
"""


def kind(doc: Any) -> str:
    """What a result document is: bench, campaign, explore, replay, stress, or a list of
    stress runs."""
    if isinstance(doc, list):
        return "runs"
    if not isinstance(doc, dict):
        return "unknown"
    if doc.get("kind") in ("bench", "campaign"):
        return doc["kind"]
    if doc.get("command") in ("explore", "explain"):
        return doc["command"]
    if "outcomes" in doc and "grades" in doc:
        return "replay" if isinstance(doc.get("replay"), dict) else "stress"
    return "unknown"


def strict(value: Any) -> Any:
    """`value` with every NaN and infinity replaced by None, so it dumps as strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    return value


# --- the failure table --------------------------------------------------------------------


@dataclass
class FailureRow:
    """One failing run or schedule, as the first table of a page shows it."""

    where: str  # scenario / variant [/ strategy / pin], and the schedule or trial
    outcome: str
    grade: str
    count: int | None
    seed: Any
    traces: list[str] = field(default_factory=list)
    rerun: str = ""
    verified: str = "not replayed"
    story: str = ""  # the anchor of an explain document's story of this failure, if any
    flags: str = ""  # what a replay of its traces must add (--scenario for a scenario file)
    key: tuple = ()  # (scenario, variant, seed, outcome): how a replay document matches it

    @property
    def replays(self) -> list[str]:
        return [f"testbed replay {shlex.quote(t)}{self.flags}" for t in self.traces]

    @property
    def explains(self) -> list[str]:
        return [f"testbed explain {shlex.quote(t)}{self.flags}" for t in self.traces]


_OUTCOME_RE = re.compile(r'"outcome"\s*:\s*"([^"]*)"')


def trace_outcome(path: str) -> str | None:
    """The outcome a trace file reproduces, read from its head (None if it is not here)."""
    try:
        with open(path, encoding="utf-8") as f:
            head = f.read(4096)
    except OSError:
        return None
    m = _OUTCOME_RE.search(head)
    return m.group(1) if m else None


def _failing(doc: dict[str, Any]) -> list[str]:
    grades = doc.get("grades", {})
    return [n for n, c in doc.get("outcomes", {}).items() if c and grades.get(n) in FAILING_GRADES]


def _run_rows(doc: dict[str, Any], where: str, rerun: str = "") -> list[FailureRow]:
    """The rows of one stress (or replayed) run: one a failing outcome, its traces beside it;
    a failed requirement without any failing outcome gets a row of its own."""
    failing = _failing(doc)
    grades, seed = doc.get("grades", {}), doc.get("seed")
    by_outcome: dict[str, list[str]] = {n: [] for n in failing}
    for t in doc.get("trace_files", []):
        o = trace_outcome(t)
        target = o if o in by_outcome else (failing[0] if failing else (o or "?"))
        by_outcome.setdefault(target, []).append(t)
    rows = []
    for name, traces in by_outcome.items():
        rows.append(
            FailureRow(where, name, grades.get(name, "?"), doc["outcomes"].get(name), seed,
                       traces, rerun, key=(doc.get("scenario"), doc.get("variant"), seed, name),
                       flags=replay_flags(doc.get("source", "")))
        )  # fmt: skip
    if doc.get("verdict") == "fail" and not any(grades.get(n) == "FORBIDDEN" for n in failing):
        for reason in doc.get("reasons", []):
            rows.append(FailureRow(where, reason, "FAIL", None, seed, [], rerun))
    if doc.get("verdict") in ("aborted", "no-evidence"):  # exit 3: nothing judged
        rows.append(FailureRow(where, "; ".join(doc.get("reasons", [])) or "aborted",
                               doc["verdict"].upper(), None, seed, [], rerun))  # fmt: skip
    return rows


def failure_rows(docs: list[Any]) -> list[FailureRow]:
    """Every failing run or schedule of `docs`, FORBIDDEN first; a replay document among
    them marks the rows it reproduced (same scenario, variant, seed and outcome)."""
    rows: list[FailureRow] = []
    replayed: dict[tuple, bool] = {}
    stories: dict[tuple, str] = {}
    explained: list[tuple[tuple, dict[str, Any]]] = []
    flat = [d for doc in docs for d in (doc if isinstance(doc, list) else [doc])]
    for doc in flat:
        k = kind(doc)
        if k == "explain":
            key = (doc["scenario"], doc["variant"], doc.get("seed"), doc["replay"]["outcome"])
            replayed[key] = bool(doc["replay"]["reproduced"])
            if doc.get("explain"):
                stories.setdefault(key, story_anchor(doc))
            explained.append((key, doc))
            continue
        if k in ("stress", "replay"):
            where = f"{doc['scenario']} / {doc['variant']}"
            if k == "replay":
                r = doc["replay"]
                replayed[doc["scenario"], doc["variant"], doc.get("seed"), r.get("outcome")] = bool(
                    r.get("reproduced")
                )
                continue
            rows += _run_rows(doc, where)
        elif k == "explore":
            where = f"{doc['scenario']} / {doc['variant']} (explore {doc.get('strategy', '')})"
            for f in doc.get("failures", []):
                traces = [f["trace_file"]] if f.get("trace_file") else []
                rows.append(
                    FailureRow(
                        f"{where}, schedule {f.get('schedule')}, {f.get('preemptions')} "
                        f"preemptions", f["outcome"], f.get("grade", "?"),
                        doc.get("outcomes", {}).get(f["outcome"]), doc.get("seed"), traces,
                        key=(doc["scenario"], doc["variant"], doc.get("seed"), f["outcome"]),
                        flags=replay_flags(doc.get("source", "")),
                    )
                )  # fmt: skip
        elif k == "campaign":
            for run in doc.get("runs", []):
                d = run.get("document") or {}
                if not _failing(d) and d.get("verdict") not in ("fail", "aborted", "no-evidence"):
                    continue
                where = (
                    f"{run['scenario']} / {run['variant']} / {run['strategy']} / {run['pin']}, "
                    f"trial {run.get('trial')}"
                )
                rows += _run_rows(d, where, run.get("command", ""))
    seen = {r.key for r in rows}
    for key, doc in explained:  # a failure known only from its explained trace
        if key not in seen:
            seen.add(key)
            outcome = doc["replay"]["outcome"]
            rows.append(
                FailureRow(f"{doc['scenario']} / {doc['variant']} (explained trace)", outcome,
                           doc["grades"].get(outcome, "FORBIDDEN"), None, doc.get("seed"),
                           [doc["trace_file"]] if doc.get("trace_file") else [], key=key,
                           flags=replay_flags(doc.get("source", "")))
            )  # fmt: skip
    for row in rows:
        if row.key in replayed:
            row.verified = "reproduced" if replayed[row.key] else "did NOT reproduce"
        row.story = stories.get(row.key, "")
    order = {"FORBIDDEN": 0, "FAIL": 1, "ABORTED": 2, "INTERESTING": 3}
    return sorted(rows, key=lambda r: order.get(r.grade, 4))


def failure_table(rows: list[FailureRow]) -> str:
    if not rows:
        return (
            '<h2 id="failures">Failures</h2><p class="pass">no failing run or schedule: no '
            "FORBIDDEN or INTERESTING outcome was seen</p>"
        )
    forbidden = sum(r.grade in ("FORBIDDEN", "FAIL", "ABORTED") for r in rows)
    head = "".join(
        f"<th>{c}</th>"
        for c in ("run or schedule", "outcome", "grade", "count", "seed", "verified")
    )
    body = []
    for r in rows:
        lines = [
            f"trace:  {t}\nreplay: {c}\nexplain: {x}"
            for t, c, x in zip(r.traces, r.replays, r.explains, strict=True)
        ]
        lines += [f"rerun:  {r.rerun}"] if r.rerun else []
        commands = html.escape("\n".join(lines)) if lines else "no trace written"
        body.append(
            f'<tr class="failure"><td>{html.escape(r.where)}</td><td>{html.escape(r.outcome)}'
            f'</td><td class="{html.escape(r.grade)}">{html.escape(r.grade)}</td>'
            f"<td>{'-' if r.count is None else f'{r.count:,}'}</td>"
            f"<td>{html.escape(str(r.seed))}</td><td>{html.escape(r.verified)}"
            + (f' <a href="#{r.story}">the story</a>' if r.story else "")
            + "</td></tr>"
            f'<tr class="commands"><td colspan="6"><pre>{commands}</pre></td></tr>'
        )
    summary = (
        f'<p class="fail">{forbidden} failing (FORBIDDEN, failed requirement or aborted)</p>'
        if forbidden
        else '<p class="note">nothing FORBIDDEN; the INTERESTING outcomes seen:</p>'
    )
    return (
        f'<h2 id="failures">Failures</h2>{summary}<table class="failures"><tr>{head}</tr>'
        f"{''.join(body)}</table>"
    )


# --- pictures -----------------------------------------------------------------------------


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return '<figure class="plot">' + text[text.index("<svg") :] + "</figure>"


def _figure(value: Any) -> Any:
    """A float as a reader takes it in (4 significant digits: 0.004946, 12.35), the rest as is."""
    return f"{value:.4g}" if isinstance(value, float) else value


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


def wide(values: list[float]) -> bool:
    """Whether bars of `values` need a logarithmic axis to all be seen."""
    pos = [v for v in values if v > 0]
    return len(pos) > 1 and max(pos) / min(pos) >= LOG_WHEN_SPREAD


def _number(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def outcome_histogram(title: str, outcomes: dict[str, int], grades: dict[str, str]) -> str:
    """A horizontal bar an outcome, coloured by its grade (as jcstress's report), each with its
    count written beside it; logarithmic when the counts are far apart, so 3 FORBIDDEN among
    7,200 ACCEPTABLE still draw a bar."""
    names = list(outcomes)
    counts = [outcomes[n] for n in names]
    log = wide(counts)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(names) + 1.2))
    labels = [f"{n} ({grades.get(n, '?').lower()})" for n in names]
    ax.barh(labels, counts, color=[GRADE_COLOURS.get(grades.get(n, ""), "#90a4ae") for n in names])
    if log:
        ax.set_xscale("log")
        ax.set_xlim(0.5, max(counts) * 8)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}" if x >= 1 else ""))
    else:
        ax.set_xlim(0, max(max(counts), 1) * 1.2)
    for y, c in enumerate(counts):
        ax.text(max(c, 0.6 if log else 0), y, f" {c:,}", va="center", fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("count" + (" (logarithmic scale)" if log else ""))
    ax.set_title(title)
    return _svg(fig)


def _seconds(x: float, _pos: Any = None) -> str:
    if x <= 0:
        return "0"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if x >= scale:
            return f"{x / scale:g} {unit}"
    return f"{x * 1e9:g} ns"


def ecdf(title: str, samples: dict[str, list[float]], xlabel: str) -> str:
    """Empirical CDFs of times to first failure, one step line a setting; one labelled tick a
    decade, so the labels never run into each other."""
    fig, ax = plt.subplots(figsize=(9, 4.5))
    for label, xs in samples.items():
        xs = sorted(xs)
        if xs:
            ax.step(xs, [(i + 1) / len(xs) for i in range(len(xs))], where="post", label=label,
                    marker="o", ms=3)  # fmt: skip
    ax.set_xscale("log")
    xs_all = [x for xs in samples.values() for x in xs if x > 0]
    decades = math.log10(max(xs_all) / min(xs_all)) if xs_all else 0
    subs = (1.0, 2.0, 5.0) if decades <= 3 else (1.0,)  # about 3 labels a decade at most
    if xs_all:
        ax.set_xlim(min(xs_all) / 1.5, max(xs_all) * 1.5)
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    ax.xaxis.set_major_formatter(FuncFormatter(_seconds))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(xlabel + " (logarithmic scale)")
    ax.set_ylabel("fraction of failing runs")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.3)
    if samples:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _svg(fig)


# --- one section a document -----------------------------------------------------------------


def _verdict(doc: dict[str, Any]) -> str:
    verdict = doc.get("verdict", "")
    cls = "pass" if verdict == "pass" else "fail"
    return f'<span class="{cls}">{html.escape(verdict.upper())}</span>'


def _outcome_table(doc: dict[str, Any]) -> str:
    return _table(
        ["outcome", "count", "grade"],
        [[n, c, doc["grades"].get(n, "?")] for n, c in doc["outcomes"].items()],
        [["", "", doc["grades"].get(n, "")] for n in doc["outcomes"]],
    )


def _stress(doc: dict[str, Any]) -> str:
    k = kind(doc)
    title = f"{doc['scenario']} / {doc['variant']}"
    parts = [
        f"<h2>{html.escape(title)}{' (replay)' if k == 'replay' else ''}: {_verdict(doc)}</h2>"
    ]
    parts.append(_outcome_table(doc))
    parts.append(outcome_histogram(title, doc["outcomes"], doc["grades"]))
    figures = ["attempts", "elapsed_s", "first_failure_s", "seed"]
    if k == "explore":
        figures = ["strategy", "points", "preemption_bound", "reduction", "schedules",
                   "complete", "pruned", "steps", "elapsed_s", "seed"]  # fmt: skip
    parts.append(
        _table(["figure", "value"], [[f, _figure(doc.get(f))] for f in figures if f in doc])
    )
    if k == "replay":
        parts.append(_table(["replay", "value"], [[a, b] for a, b in doc["replay"].items()]))
    parts += [f'<p class="fail">{html.escape(r)}</p>' for r in doc.get("reasons", [])]
    return "".join(parts) + _environment(doc.get("environment"))


# --- bench ----------------------------------------------------------------------------------

_MEASURES = re.compile(r"(_ns|_us|_ms|_s)$|ratio|per_|_over_|_vs_|count|median|min|max")


def words(key: str) -> str:
    """A figure's key in words: `predicted_points_over_compiled_out` is "predicted points /
    compiled out", `batched_vs_pure_python` "batched vs pure python"."""
    text = key.replace("_over_", " / ").replace("_vs_", " vs ").replace("_", " ")
    return " ".join(text.split())


def _item_name(item: Any, index: int) -> str:
    """What names one element of a list of figures: its strings (variant, pin), else its few
    integer settings (stack size, pages, shares); its index only as a last resort."""
    if isinstance(item, dict):
        named = [f"{v}" for k, v in item.items() if isinstance(v, str)]
        if named:
            return ", ".join(named)
        settings = [
            f"{words(k)} {v}"
            for k, v in item.items()
            if isinstance(v, int) and not isinstance(v, bool) and not _MEASURES.search(k)
        ]
        if settings:
            return ", ".join(settings[:3])
    return f"#{index}"


def ratios(figures: Any, path: tuple[str, ...] = ()) -> dict[str, float]:
    """Every figure named a ratio (…ratio…, …_over_…, …_vs_…) in a bench's figures, labelled
    in words: the names of the lists' elements and the keys, not their positions."""
    found: dict[str, float] = {}
    if isinstance(figures, dict):
        items = [(words(str(k)), k, v) for k, v in figures.items()]
    elif isinstance(figures, list):
        items = [(_item_name(v, i), str(i), v) for i, v in enumerate(figures)]
    else:
        return found
    for label, k, v in items:
        if isinstance(v, int | float) and not isinstance(v, bool):
            if any(w in str(k) for w in ("ratio", "_over_", "_vs_")) and math.isfinite(v):
                where = ", ".join(path)
                found[f"{where}: {label}" if where else label] = float(v)
        else:
            found.update(ratios(v, (*path, label)))
    return found


def ratio_chart(title: str, values: dict[str, float]) -> str:
    """Ratios as bars labelled in words, each with its value written beside it; logarithmic
    when they span more than a decade or so (6,500x beside 3.4x)."""
    names, xs = list(values), list(values.values())
    log = wide(xs) and all(x > 0 for x in xs)
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(names) + 1.3))
    ax.barh(names, xs, color=["#5c6bc0" if x >= 1 else "#26a69a" for x in xs])
    ax.axvline(1.0, color="#333", linewidth=0.8)
    if log:
        ax.set_xscale("log")
        ax.set_xlim(min(min(xs), 1) / 2, max(xs) * 6)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,g}x"))
    else:
        lo, hi = min(min(xs), 0), max(max(xs), 1)
        ax.set_xlim(lo * 1.2, hi * 1.25)
    for y, x in enumerate(xs):
        ax.text(x, y, f" {_number(x)}x", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_xlabel("ratio (1 = the baseline of the same run)" + (", logarithmic" if log else ""))
    ax.set_title(title)
    return _svg(fig)


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
        found = ratios(b.get("figures", {}))
        if found:
            parts.append(ratio_chart(f"{b['bench']}: ratios", found))
    return "".join(parts) + _environment(doc.get("environment"))


# --- campaign -------------------------------------------------------------------------------


def _campaign(doc: dict[str, Any]) -> str:
    parts = [f"<h1>campaign: {html.escape(', '.join(doc.get('scenarios', [])))}</h1>"]
    cols = ["scenario", "variant", "strategy", "pin", "runs", "failing", "failure rate [95%]",
            "ttff median s", "ttff q1-q3 s", "attempts to first", "rate/attempt bound",
            "retried", "lost"]  # fmt: skip
    rows, classes = [], []
    for a in doc["aggregates"]:
        interval = a["run_failure_rate_wilson95"]  # None: no finished run
        q = a["first_failure_s"]
        rows.append([
            a["scenario"], a["variant"], a["strategy"], a["pin"], a["runs"], a["failing_runs"],
            "not run" if interval is None
            else f"{a['run_failure_rate']:.3f} [{interval[0]:.3f}-{interval[1]:.3f}]",
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
    if samples:
        parts.append(ecdf("time to first failure", samples, "time to the run's first failure"))
    for a in doc["aggregates"]:
        if any(a["outcomes"].values()):
            parts.append(
                outcome_histogram(
                    f"{a['scenario']} / {a['variant']} / {a['strategy']} / {a['pin']}",
                    a["outcomes"], a["grades"],
                )
            )  # fmt: skip
    return "".join(parts) + _environment(doc.get("environment"))


def story_anchor(doc: dict[str, Any]) -> str:
    key = f"{doc['scenario']}-{doc['variant']}-{doc.get('seed')}-{doc['replay']['outcome']}"
    return "story-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


def _explain(doc: dict[str, Any]) -> str:
    """An explain document: the story of its failure, one row an access."""
    from testbed.harness.explain import header
    from testbed.trace.story import access_text, where

    title = f"{doc['scenario']} / {doc['variant']} (explain {doc.get('trace_file', '')})"
    if not doc.get("explain"):
        reasons = "; ".join(doc.get("reasons", [])) or "the forced order went elsewhere"
        return (
            f'<h2>{html.escape(title)}: {_verdict(doc)}</h2><p class="fail">the trace did not '
            f"reproduce {html.escape(doc['replay']['outcome'])} ({html.escape(reasons)}): no story</p>"
        )
    s = doc["explain"]["story"]
    rows = [
        [a["n"], a["actor"], access_text(a), where(a["at"]), a["at"].get("code", ""),
         ", ".join(a.get("held", [])), a.get("why", "")]
        for a in s["accesses"]
    ]  # fmt: skip
    parts = [
        f'<h2 id="{story_anchor(doc)}">{html.escape(title)}</h2>',
        f"<p>{html.escape(header(doc))}</p>",
        _table(["#", "actor", "access", "source", "code", "holding", "why"], rows),
    ]
    if s["recorded_by"]:
        at = s["recorded_at"] or {}
        final = ", ".join(f"{w} = {v}" for w, v in s["final"].items())
        parts.append(
            f'<p class="fail">{html.escape(s["recorded_by"])} recorded '
            f"{html.escape(s['outcome'])} at {html.escape(where(at))}"
            + (f" <code>{html.escape(at.get('code', ''))}</code>" if at.get("code") else "")
            + (f"; then {html.escape(final)}" if final else "")
            + "</p>"
        )
    if s["unseen"]:
        parts.append(
            f'<p class="note">not seen: the accesses by address of {html.escape(", ".join(s["unseen"]))}'
            " (native code at named points, env.address, a cast)</p>"
        )
    return "".join(parts)


def _section(doc: Any) -> list[str]:
    k = kind(doc)
    if k == "explain":
        return [_explain(doc)]
    if k == "bench":
        return [_bench(doc)]
    if k == "campaign":
        return [_campaign(doc)]
    if k in ("stress", "explore", "replay"):
        return [_stress(doc)]
    if k == "runs":
        return [_stress(d) for d in doc if kind(d) in ("stress", "explore", "replay")]
    return ["<p>a result document of an unknown kind (kept in the data below)</p>"]


def render(docs: list[Any]) -> str:
    kinds = sorted({kind(d) for d in docs})
    body = [failure_table(failure_rows(docs))]
    for doc in docs:
        body += _section(doc)
    data = json.dumps(strict(docs), allow_nan=False).replace("</", "<\\/")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>testbed report: {html.escape(', '.join(kinds))}</title>"
        f"<style>{STYLE}</style><script>{CHECK_SCRIPT}</script></head>"
        f"<body><h1>testbed report</h1>{''.join(body)}"
        f'<script type="application/json" id="testbed-data">{data}</script></body></html>\n'
    )


def write_html(docs: list[Any], path: str | Path) -> Path:
    """Write the report of `docs` (result documents as loaded from JSON) to `path`."""
    path = Path(path)
    path.write_text(render(docs))
    return path
