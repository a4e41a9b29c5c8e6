"""A failure told as a short causal story (`testbed explain`): from the notes of one replay
(every access with its values and source line, every lock operation, the outcome), the
accesses that conflicted, in the order the replay ran them, and the outcome they led to.

Which accesses: those of the words two or more actors touched, at least one writing
(a conflict), before the outcome was recorded, in groups: words no lock protects throughout
(Eraser's lockset: no lock held at every access) whose accesses interleave (an actor,
another, the first again: a lost update, a check and an act split), then the unprotected
ones that do not, then the protected ones (an atomicity violation: every access under a
lock, released in between), interleaved first. The first group that is not empty tells the
story, and each next group joins it while the story stays short.
"""

from __future__ import annotations

import os
from itertools import groupby
from typing import Any

from testbed.trace.trace import DEADLOCK

ACCESSES = ("read", "write")
TEXT_LINES = 16  # story lines the text shows (the JSON holds them all)


def word_name(region: str, index: int) -> str:
    return f"{region}[{index}]"


def _words(note: dict[str, Any]) -> list[tuple[str, int]]:
    start, stop = note["words"]
    return [(note["region"], i) for i in range(start, stop)]


def _interleaved(actors: list[str]) -> bool:
    """Does an actor come back to the word after another touched it?"""
    runs = [a for a, _ in groupby(actors)]
    return len(runs) > len(set(runs))


def steps(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The notes grouped into the runner's steps (an actor from one park to the next), in
    the order they ran."""
    out: list[dict[str, Any]] = []
    for (actor, step), group in groupby(notes, key=lambda n: (n["actor"], n["step"])):
        out.append(
            {"index": len(out), "actor": actor, "step_of_actor": step, "events": list(group)}
        )
    return out


def tell(notes: list[dict[str, Any]], outcome: str, level: str, grade: str = "") -> dict[str, Any]:
    """The story of `outcome` in `notes` (sorted by `seq`)."""
    if outcome == DEADLOCK:
        return _deadlock(notes, grade)
    cut = next(
        (k for k, n in enumerate(notes) if n["kind"] == "outcome" and n["outcome"] == outcome),
        None,
    )
    before = notes if cut is None else notes[:cut]
    held: dict[str, set[str]] = {}
    accesses: list[dict[str, Any]] = []
    cores: list[dict[str, Any]] = []
    for n in before:
        if n["kind"] == "acquire":
            held.setdefault(n["actor"], set()).add(n["lock"])
        elif n["kind"] == "release":
            held.setdefault(n["actor"], set()).discard(n["lock"])
        elif n["kind"] in ACCESSES:
            accesses.append({**n, "held": sorted(held.get(n["actor"], ()))})
        elif n["kind"] == "core":
            cores.append({**n, "held": sorted(held.get(n["actor"], ()))})
    by_word: dict[tuple[str, int], list[int]] = {}
    for k, a in enumerate(accesses):
        for w in _words(a):
            by_word.setdefault(w, []).append(k)
    groups: dict[str, list[tuple[str, int]]] = {
        "unprotected, interleaved": [],
        "unprotected": [],
        "protected, interleaved": [],
        "protected": [],
    }
    for w, ks in by_word.items():
        actors = [accesses[k]["actor"] for k in ks]
        if len(set(actors)) < 2 or not any(accesses[k]["kind"] == "write" for k in ks):
            continue
        common = set.intersection(*(set(accesses[k]["held"]) for k in ks))
        name = ("protected" if common else "unprotected") + (
            ", interleaved" if _interleaved(actors) else ""
        )
        groups[name].append(w)
    chosen: list[tuple[str, int]] = []
    told: dict[str, list[str]] = {}
    for g, ws in groups.items():
        if not ws:
            continue
        if chosen and len({k for w in chosen + ws for k in by_word[w]}) > TEXT_LINES:
            break
        chosen += ws
        told[g] = [word_name(*w) for w in sorted(ws)]
    picked = sorted({k for w in chosen for k in by_word[w]})
    lines = [accesses[k] for k in picked]
    first = lines[0]["seq"] if lines else -1  # core's answers from then on: its state is its own
    lines += [n for n in cores if n["seq"] >= first]
    lines.sort(key=lambda n: n["seq"])
    for k, line in enumerate(lines):
        line["n"] = k + 1
    _annotate(lines, set(chosen))
    end = notes[cut] if cut is not None else None
    final = {}
    if end is not None:
        for region, i in chosen:
            values = end.get("state", {}).get(region)
            if values is not None and i < len(values):
                final[word_name(region, i)] = values[i]
    opaque = sorted({n["actor"] for n in notes if n["kind"] == "opaque"})
    native = sorted({n["actor"] for n in notes if n["kind"] == "opaque" and n.get("native")})
    unseen = [
        a for a in opaque if level == "named" or a not in native
    ]  # at access level a native actor's tb_load and tb_store are seen
    return {
        "outcome": outcome,
        "grade": grade,
        "recorded_by": end["actor"] if end else None,
        "recorded_at": end["at"] if end else None,
        "words": [word_name(*w) for w in sorted(chosen)],
        "groups": told,  # which words, and why they tell the story
        "accesses": lines,
        "final": final,
        "unseen": unseen,
    }


def _deadlock(notes: list[dict[str, Any]], grade: str) -> dict[str, Any]:
    """A deadlock told by its locks: each waiting actor's acquires of the locks it still
    holds and the wait it never came back from, in order, each with its line, and the
    cycle of who waits for whom."""
    held: dict[str, dict[str, dict[str, Any]]] = {}  # actor -> lock -> its acquire note
    waiting: dict[str, dict[str, Any]] = {}  # actor -> the wait it has not come back from
    for n in notes:
        actor, kind = n["actor"], n["kind"]
        if kind == "wait":
            waiting[actor] = n
        elif kind == "acquire":
            held.setdefault(actor, {})[n["lock"]] = n
            waiting.pop(actor, None)
        elif kind == "release":
            held.setdefault(actor, {}).pop(n["lock"], None)
    holder = {lock: a for a, locks in held.items() for lock in locks}
    lines: list[dict[str, Any]] = []
    for actor, wait in waiting.items():
        mine = held.get(actor, {})
        lines += [{**n, "held": []} for n in mine.values()]
        by = holder.get(wait["lock"])
        lines.append({**wait, "held": sorted(mine), "why": f"held by {by}" if by else ""})
    lines.sort(key=lambda n: n["seq"])
    for k, line in enumerate(lines):
        line["n"] = k + 1
    cycle = [
        f"{a} waits for {w['lock']}, held by {holder[w['lock']]}"
        for a, w in waiting.items()
        if w["lock"] in holder
    ]
    return {
        "outcome": DEADLOCK,
        "grade": grade,
        "recorded_by": None,
        "recorded_at": None,
        "words": [],
        "groups": {},
        "accesses": lines,
        "final": {},
        "unseen": [],
        "cycle": cycle,
    }


def _annotate(lines: list[dict[str, Any]], chosen: set[tuple[str, int]]) -> None:
    """Why a line matters: a write over another actor's write its actor never read (a lost
    update), a read whose value another actor overwrote before its actor came back (stale)."""
    for k, line in enumerate(lines):
        for w in _words(line) if line["kind"] in ACCESSES else ():
            if w not in chosen:
                continue
            earlier = [x for x in lines[:k] if x["kind"] in ACCESSES and w in _words(x)]
            later = [x for x in lines[k + 1 :] if x["kind"] in ACCESSES and w in _words(x)]
            me = line["actor"]
            if line["kind"] == "write" and earlier:
                last_write = next((x for x in reversed(earlier) if x["kind"] == "write"), None)
                mine = [x for x in earlier if x["actor"] == me]
                if (
                    last_write is not None
                    and last_write["actor"] != me
                    and mine
                    and mine[-1]["n"] < last_write["n"]
                ):
                    line["why"] = (
                        f"overwrites {last_write['actor']}'s write ({last_write['n']}) unseen: "
                        f"{me} last read it at ({mine[-1]['n']})"
                    )
            if line["kind"] == "read":
                nxt = next((x for x in later if x["actor"] == me), None)
                other = next(
                    (
                        x
                        for x in later
                        if x["kind"] == "write"
                        and x["actor"] != me
                        and (nxt is None or x["n"] < nxt["n"])
                    ),
                    None,
                )
                if other is not None:
                    line["why"] = (
                        f"stale once {other['actor']} writes it ({other['n']})"
                        if nxt is not None
                        else f"{other['actor']} writes it after ({other['n']})"
                    )


def where(at: dict[str, Any] | None) -> str:
    if not at or (at.get("native") and "file" not in at):
        return "native: no source line" if at else "no source line"
    path = at["file"]
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:
        pass
    return f"{path}:{at['line']}"


def _value(v: int | None) -> str:
    if v is None:
        return "?"
    return str(v) if v < 1 << 16 else hex(v)


def _values(vs: list[int] | None) -> str:
    if vs is None:
        return "(many words)"
    return ", ".join(_value(v) for v in vs) if len(vs) != 1 else _value(vs[0])


def access_text(a: dict[str, Any]) -> str:
    if a["kind"] in ("acquire", "wait"):
        return f"{'acquire' if a['kind'] == 'acquire' else 'wait':<5} {a['lock']}"
    if a["kind"] == "core":
        args = ", ".join(_value(v) for v in a["args"])
        op, status = a.get("op_name", f"request {a['op']}"), a.get("status_name", a["status"])
        return f"core  {op}({args}) -> {status}, {_value(a['value'])}"
    start, stop = a["words"]
    word = f"{a['region']}[{start}]" if stop == start + 1 else f"{a['region']}[{start}:{stop}]"
    text = f"{a['kind']:<5} {word} = {_values(a.get('values'))}"
    if a["kind"] == "write":
        text += f" (was {_values(a.get('was'))})"
    return text


def render(story: dict[str, Any], header: str) -> list[str]:
    """The story as text lines: the outcome, the numbered accesses, what they led to."""
    out = [header]
    lines = story["accesses"]
    if not lines and story.get("cycle") is not None:
        out.append("  no actor was seen waiting for a lock through env.lock")
    elif not lines:
        out.append(
            "  no conflicting accesses were seen (no word that two actors touched, one of "
            "them writing, through env.words, env.bitmap or env.atomic)"
        )
    shown = lines[:TEXT_LINES]
    width = max((len(a["actor"]) for a in shown), default=0)
    what = max((len(access_text(a)) for a in shown), default=0)
    for a in shown:
        held = f"  holding {', '.join(a['held'])}" if a["held"] else ""
        out.append(
            f"  {a['n']:>2}. {a['actor']:<{width}}  {access_text(a):<{what}}  {where(a['at'])}"
            + (f"  {a['at']['code']}" if a["at"].get("code") else "")
            + held
        )
        if a.get("why"):
            out.append(f"      {a['why']}")
    if len(lines) > len(shown):
        out.append(f"  ... {len(lines) - len(shown)} more (--json holds them all)")
    if story["recorded_by"]:
        at = story["recorded_at"] or {}
        arbiter = " in the arbiter" if at.get("function") == "arbiter" else ""
        final = ", ".join(f"{w} = {_value(v)}" for w, v in story["final"].items())
        out.append(
            f"  -> {story['recorded_by']} recorded {story['outcome']}{arbiter} at "
            f"{where(at)}" + (f"  {at['code']}" if at.get("code") else "")
        )
        if final:
            out.append(f"     then {final}")
    if story.get("cycle"):
        out.append("  -> no actor can move: " + "; ".join(story["cycle"]))
    protected = [w for g, ws in story["groups"].items() if g.startswith("protected") for w in ws]
    if protected:
        out.append(
            f"  every access of {', '.join(protected)} is under a lock the actors share, "
            "released in between: an atomicity violation, not a data race"
        )
    for actor in story["unseen"]:
        out.append(
            f"  not seen: {actor} reached shared memory by address (native code, env.address "
            "or a cast); record the trace with --points access to see tb_load and tb_store"
        )
    return out
