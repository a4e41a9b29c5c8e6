"""`testbed explain`'s run: a trace replayed once while every actor notes what it does
(harness/notes.py), then the story of its outcome told from the notes (trace/story.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from testbed.harness.notes import notes_file
from testbed.harness.replay import judged, replay
from testbed.harness.result import EXIT_ABORTED, EXIT_OK
from testbed.trace import story
from testbed.trace.trace import DEADLOCK, Trace


def read_notes(directory: str, nactors: int) -> list[dict[str, Any]]:
    """Every actor's notes, in the order the replay made them (a line an actor could not
    finish, as it died, is left out)."""
    notes = []
    for i in range(nactors):
        path = Path(notes_file(directory, i))
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            try:
                notes.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return sorted(notes, key=lambda n: n["seq"])


def explain(trace: Trace, path: str, lock_timeout_s: float = 10.0) -> dict[str, Any]:
    """Replay `trace` once, noting; its document with `explain` (the story, the steps),
    verdict `explained` (exit 0), or the replay's own when it did not reproduce (exit 3:
    a replay that went elsewhere tells no story of this outcome)."""
    with tempfile.TemporaryDirectory(prefix="testbed-explain-") as d:
        doc = judged(replay(trace, lock_timeout_s, explain=d))
        notes = read_notes(d, len(trace.actors))
    doc["command"] = "explain"
    doc["trace_file"] = path
    doc["trace_points"] = trace.points
    doc["iteration"] = trace.iteration
    if not doc["replay"]["reproduced"]:
        doc["explain"] = None
        doc["exit_code"] = EXIT_ABORTED
        if doc["verdict"] != "aborted":
            doc["verdict"] = "not-reproduced"
        return doc
    grade = "FORBIDDEN" if trace.outcome == DEADLOCK else doc["grades"].get(trace.outcome, "")
    doc["explain"] = {
        "story": story.tell(notes, trace.outcome, trace.points, grade),
        "steps": story.steps(notes),
    }
    doc["verdict"], doc["exit_code"] = "explained", EXIT_OK
    return doc


def header(doc: dict[str, Any]) -> str:
    """The story's first line: the outcome, its grade, who recorded it, which iteration."""
    s = doc["explain"]["story"]
    who = f" ({s['recorded_by']})" if s["recorded_by"] else ""
    it = f", iteration {doc['iteration']}" if doc.get("iteration") is not None else ""
    reason = ""
    if s["outcome"] == DEADLOCK and doc.get("reasons"):
        reason = ": " + doc["reasons"][0].removeprefix(f"{DEADLOCK}: ")
    return (
        f"outcome {s['grade']} {s['outcome']}{who}{it}{reason} "
        f"({doc['scenario']} / {doc['variant']}, {doc['trace_points']} points)"
    )
