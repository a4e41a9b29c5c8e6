"""A failing interleaving as a value: saved, replayed, shrunk and drawn (like Hypothesis's
failing examples). A hand-written order of schedule points is a trace too."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed._version import __version__
from testbed.scenario import ConfigError
from testbed.trace.step import Step

FORMAT, VERSION = "testbed-trace", 1
ORDERS = ("pass", "stop", "step")
DEADLOCK = "deadlock"  # the outcome of a trace that ends with every live actor waiting


class TraceError(ConfigError):
    """A trace that cannot be used: unreadable, another version, an unknown scenario (exit 2)."""


@dataclass(slots=True)
class Event:
    ticket: int
    actor: str  # an actor's name, or "core"
    kind: str  # "point", "outcome" or "core"
    point: str = ""  # the schedule point, or the outcome's name
    detail: dict[str, Any] = field(default_factory=dict)  # core: op, client, status, key
    optional: bool = False  # hand-written traces: the actor may block or finish first


def _compact(e: Event) -> dict[str, Any]:
    """An event as JSON, leaving out fields at their defaults (traces run to 10^5 events)."""
    d: dict[str, Any] = {"ticket": e.ticket, "actor": e.actor, "kind": e.kind, "point": e.point}
    if e.detail:
        d["detail"] = e.detail
    if e.optional:
        d["optional"] = True
    return d


@dataclass
class Trace:
    scenario: str  # its name
    variant: str
    config: dict[str, Any]
    seed: int
    actors: list[str]
    outcome: str  # the outcome to reproduce
    detected_by: str = ""  # the actor that saw it
    complete: bool = True  # the events go back to the start of the run
    rounds: int = 0
    iteration: int | None = None  # an iterating scenario's: the one iteration the events are
    # "pass": each point event is its actor passing the point, its step running in the
    # trace's order (recorded traces); "stop": each event runs the actor until it stops at
    # the point (hand-written preemption scripts); "step": each event lets its actor go from
    # where it is parked to its next point, the event's (explored schedules; an optional
    # event is a step that ended on a lock another actor holds)
    order: str = "pass"
    points: str = "named"  # the run's --points: a replay runs with the same points
    events: list[Event] = field(default_factory=list)
    testbed_version: str = __version__
    source: str = ""  # how to load the scenario (a name, PATH.py:NAME, module:NAME); "" = name

    @property
    def ref(self) -> str:
        return self.source or self.scenario

    def steps(self, points: list[str] | tuple[str, ...] = ()) -> list[Step]:
        """The forced order. "stop": each point event runs its actor until it stops there.
        "pass": each event puts its step of code in the trace's order, by where the ticket
        was taken closest to it: a point comes just before its step, so the actor passes
        it; `L.acquired` and `core.reply` come just after theirs, so the actor is run until
        it gets there, and the `L.acquire` and `core.<request>` points before them are left
        to it; core's own record of serving a request orders the request (when the
        scenario's points have `core.reply`)."""
        if self.order == "stop":
            return [Step(e.actor, e.point, e.optional) for e in self.events if e.kind == "point"]
        if self.order == "step":
            return [
                Step(e.actor, e.point, e.optional, fresh=True)
                for e in self.events
                if e.kind == "point"
            ]
        steps = []
        core_replies = "core.reply" in points
        for e in self.events:
            if e.kind == "core" and core_replies and e.detail.get("client") in self.actors:
                steps.append(Step(e.detail["client"], "core.reply", fresh=True))
            elif e.kind != "point":
                continue
            elif e.point.endswith(".acquired") or e.point == "core.reply":
                steps.append(Step(e.actor, e.point, e.optional))
            elif e.point.endswith(".acquire") or (core_replies and e.point.startswith("core.")):
                continue
            else:
                steps.append(Step(e.actor, e.point, e.optional, passes=True))
        return steps

    def point_events(self) -> list[Event]:
        return [e for e in self.events if e.kind == "point"]

    def with_events(self, events: list[Event]) -> Trace:
        other = Trace(**{k: v for k, v in self.__dict__.items() if k != "events"})
        other.events = list(events)
        return other

    def save(self, path: str | Path) -> Path:
        """Write the trace to `path` whole or not at all: into a file beside it, renamed
        over `path` once written, so a full disk leaves no cut-short trace to be taken for
        one (OSError, and nothing at `path`)."""
        doc = {"format": FORMAT, "version": VERSION}
        doc.update(
            (k, v)
            for k, v in self.__dict__.items()
            if k != "events" and not (k == "iteration" and v is None)
        )
        doc["events"] = [_compact(e) for e in self.events]
        path = Path(path)
        path.parent.mkdir(exist_ok=True)  # its parent was checked before the run
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            part.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
            os.replace(part, path)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        """The trace in file `path`; TraceError (exit 2) naming the first field that is wrong,
        before a byte of a file larger than MAX_BYTES is read. The events are read one at a
        time, each made an Event as it is read (_Reader): loading takes about the file's
        size twice (its text and its events), never a list of dicts of the whole document
        (7 times the file's size), and a trace of too many events stops at the first one
        over the bound."""
        raw_bytes = _read_regular(path)
        try:
            text = raw_bytes.decode()
        except UnicodeDecodeError as e:
            raise TraceError(f"trace {path} does not parse as JSON: {e}") from None
        del raw_bytes  # the text alone from here on
        try:
            doc = _Reader(text, str(path)).document()
        except TraceError:
            raise
        except ValueError as e:  # JSONDecodeError, digits
            raise TraceError(f"trace {path} does not parse as JSON: {e}") from None
        except RecursionError:
            raise TraceError(f"trace {path} does not parse as JSON: nested too deeply") from None
        del text
        _check_format(doc, path)
        try:
            _check(doc, _FIELDS, "", required=_REQUIRED)
            trace = cls(**doc)
        except TraceError as e:
            raise TraceError(f"trace {path}: malformed: {e}") from None
        if trace.order not in ORDERS:
            raise TraceError(f"trace {path}: order {trace.order!r}, expected {', '.join(ORDERS)}")
        if trace.points not in ("named", "access"):
            raise TraceError(f"trace {path}: points {trace.points!r}, expected named or access")
        for e in trace.events:
            if e.kind == "point" and e.actor not in trace.actors:
                raise TraceError(
                    f"trace {path}: event {e.ticket} names no actor of the trace: {e.actor!r}"
                )
        return trace


def _check_format(doc: dict[str, Any], path: str | Path) -> None:
    """TraceError unless `doc` says it is a trace of this format's version; then drops the
    two fields."""
    if doc.get("format") != FORMAT:
        raise TraceError(f'trace {path}: not a testbed trace (no "format": "{FORMAT}")')
    if doc.get("version") != VERSION:
        raise TraceError(
            f"trace {path}: format version {doc.get('version')!r}, this testbed "
            f"({__version__}) reads version {VERSION}"
        )
    doc.pop("format"), doc.pop("version")


_SPACE = re.compile(r"[ \t\n\r]*").match  # JSON's whitespace
_OTHER_VALUES = tuple('[-0123456789"tfnNI')  # how a JSON value other than an object begins
_NO_DETAIL: dict[str, Any] = {}  # the detail of every event that has none: shared, never written
_SHARED_DETAILS = 4096  # distinct details kept to be shared (a core event's repeat)


class _Reader:
    """A trace's JSON text, read as the json module reads it but one event at a time: the
    top-level object's fields each with `json`'s own decoder, and the events' list element
    by element, each checked and made an Event at once (its dict goes as it came). Names
    are interned and equal details shared, so an event costs about its object and its
    ticket (measured: bench/trace_load.py)."""

    def __init__(self, text: str, path: str):
        self.text, self.path = text, path
        self.decode = json.JSONDecoder().raw_decode
        self.details: dict[tuple, dict[str, Any]] = {}

    def _char(self, i: int, expected: str) -> tuple[str, int]:
        """The character after the whitespace at i (one of `expected`) and the index after it."""
        i = _SPACE(self.text, i).end()
        c = self.text[i : i + 1]
        if not c or c not in expected:
            what = repr(c) if c else "the end of the text"
            wanted = " or ".join(repr(x) for x in expected)
            raise ValueError(f"expected {wanted} at char {i}, found {what}")
        return c, i + 1

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        text, decode = self.text, self.decode
        i = _SPACE(text, 0).end()
        if text[i : i + 1] in _OTHER_VALUES:  # JSON, but no object
            raise TraceError(
                f"trace {self.path}: not a testbed trace (its JSON is no object; a trace is an "
                f'object with "format": "{FORMAT}")'
            )
        _, i = self._char(i, "{")
        c, i = self._char(i, '}"')
        while c != "}":
            key, i = decode(text, i - 1)  # the name, from its opening quote
            _, i = self._char(i, ":")
            i = _SPACE(text, i).end()
            if key == "events" and text.startswith("[", i):
                if "format" in doc:  # not a trace at all: say so before reading its events
                    _check_format(dict(doc), self.path)
                doc[key], i = self.events(i + 1)
            else:
                doc[key], i = decode(text, i)
            c, i = self._char(i, ",}")
            if c == ",":
                _, i = self._char(i, '"')
        end = _SPACE(text, i).end()
        if end != len(text):
            raise ValueError(f"extra data at char {end}")
        return doc

    def events(self, i: int) -> tuple[list[Event], int]:
        """The events' list from just after its `[`; the index after its `]`."""
        text, decode, out = self.text, self.decode, []
        i = _SPACE(text, i).end()
        if text.startswith("]", i):
            return out, i + 1
        while True:
            if len(out) == MAX_EVENTS:
                raise TraceError(
                    f"trace {self.path}: malformed: events: more than {MAX_EVENTS:,} events, "
                    f"expected at most {MAX_EVENTS:,}"
                )
            e, i = decode(text, _SPACE(text, i).end())
            out.append(self._event(e, len(out)))
            c, i = self._char(i, ",]")
            if c == "]":
                return out, i

    def _event(self, e: Any, k: int) -> Event:
        try:
            _check(e, _EVENT_FIELDS, f"events[{k}].", required=("ticket", "actor", "kind"))
            if e["kind"] not in KINDS:
                raise TraceError(
                    f"events[{k}].kind {e['kind']!r}: expected one of {', '.join(KINDS)}"
                )
            detail = e.get("detail")
            if detail and len(detail) > MAX_DETAIL:
                raise TraceError(
                    f"events[{k}].detail: {len(detail)} fields, expected at most {MAX_DETAIL}"
                )
        except TraceError as err:
            raise TraceError(f"trace {self.path}: malformed: {err}") from None
        intern = sys.intern  # names repeat: one string each, not one an event
        return Event(
            e["ticket"],
            intern(e["actor"]),
            intern(e["kind"]),
            intern(e.get("point", "")),
            self._detail(detail) if detail else _NO_DETAIL,
            e.get("optional", False),
        )

    def _detail(self, detail: dict[str, Any]) -> dict[str, Any]:
        """`detail` with its names interned, or an equal one read before (core events repeat
        a few details: their client, op and status)."""
        intern = sys.intern
        items = tuple((intern(k), intern(v) if type(v) is str else v) for k, v in detail.items())
        shared = self.details.get(items)
        if shared is None:
            shared = dict(items)
            if len(self.details) < _SHARED_DETAILS:
                self.details[items] = shared
        return shared


def _read_regular(path: str | Path) -> bytes:
    """The bytes of trace file `path`: a regular file only (a FIFO, a device, a directory is
    refused at once, never read: opened without blocking, then looked at), and never more
    than MAX_BYTES of it (TraceError, exit 2)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise TraceError(f"trace {path}: no such file") from None
    except OSError as e:
        raise TraceError(f"trace {path}: {e.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise TraceError(f"trace {path}: not a regular file (a trace is a file of JSON)")
    with os.fdopen(fd, "rb") as f:
        if st.st_size == 0:
            raise TraceError(f"trace {path}: empty (0 bytes: its writing was cut short?)")
        if st.st_size > MAX_BYTES:
            raise TraceError(
                f"trace {path}: {st.st_size:,} bytes, expected at most {MAX_BYTES:,} "
                f"({MAX_BYTES >> 20} MiB; a trace of {MAX_EVENTS:,} events is well below)"
            )
        try:
            data = f.read(st.st_size + 1)  # a buffer of its size (one more byte: it grew)
            if len(data) > st.st_size:  # it grew while read: the rest, up to the bound
                data += f.read(MAX_BYTES + 1 - len(data))
        except OSError as e:
            raise TraceError(f"trace {path}: {e.strerror}") from None
    if len(data) > MAX_BYTES:
        raise TraceError(f"trace {path}: more than {MAX_BYTES:,} bytes")
    return data


MAX_BYTES = 128 << 20
MAX_EVENTS = 1_000_000  # a recorded trace of as many: 86 MB of JSON (bench/trace_load.py)
MAX_DETAIL = 16  # fields of an event's detail (the testbed writes the client and core_event's)
MAX_INT = (1 << 64) - 1  # tickets, seeds, config values: what a shared word holds
KINDS = ("point", "outcome", "core")
_SCALAR = (str, int, float, bool)
_FIELDS: dict[str, Any] = {
    "scenario": str, "variant": str, "config": dict, "seed": int, "actors": list,
    "outcome": str, "detected_by": str, "complete": bool, "rounds": int, "order": str,
    "events": list, "testbed_version": str, "source": str, "points": str, "iteration": int,
}  # fmt: skip
_REQUIRED = ("scenario", "variant", "config", "seed", "actors", "outcome", "events")
_EVENT_FIELDS: dict[str, Any] = {
    "ticket": int, "actor": str, "kind": str, "point": str, "detail": dict, "optional": bool,
}  # fmt: skip


def _check(doc: Any, fields: dict[str, Any], where: str, required: tuple[str, ...]) -> None:
    """TraceError naming the first field of `doc` that is missing, unknown or of a wrong type
    (an int outside 0..2**64-1 included); dicts may hold only strings to plain values."""
    if not isinstance(doc, dict):
        raise TraceError(f"{where.rstrip('.') or 'the document'}: expected an object")
    for key in required:
        if key not in doc:
            raise TraceError(f"{where}{key}: missing")
    for key, value in doc.items():
        kind = fields.get(key)
        if kind is None:
            raise TraceError(f"{where}{key}: unknown field; expected {', '.join(fields)}")
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if not ok:
            raise TraceError(f"{where}{key} {_short(value)}: expected {_KIND_NAMES[kind]}")
        if kind is int and not 0 <= value <= MAX_INT:
            raise TraceError(f"{where}{key} {_short(value)}: expected 0..{MAX_INT}")
        if kind is dict:
            for k, v in value.items():
                if not isinstance(v, _SCALAR) or (isinstance(v, int) and abs(v) > MAX_INT):
                    raise TraceError(
                        f"{where}{key}.{k} {_short(v)}: expected a string, a number in "
                        f"-{MAX_INT}..{MAX_INT} or a boolean"
                    )
        if key == "actors" and not all(isinstance(a, str) for a in value):
            raise TraceError(f"{where}actors: expected a list of names (strings)")


_KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", dict: "an object",
               list: "a list"}  # fmt: skip


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 256 else "(huge int)"
    return text if len(text) <= 40 else text[:37] + "..."
