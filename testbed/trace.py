"""A failing interleaving as a value: saved, replayed, shrunk and drawn (like Hypothesis's
failing examples). A hand-written order of schedule points is a trace too."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .scenario import ConfigError
from .schedule import Step

FORMAT, VERSION = "testbed-trace", 1


class TraceError(ConfigError):
    """A trace that cannot be used: unreadable, another version, an unknown scenario (exit 2)."""


@dataclass
class Event:
    ticket: int
    actor: str  # an actor's name, or "core"
    kind: str  # "point", "outcome" or "core"
    point: str = ""  # the schedule point, or the outcome's name
    detail: dict[str, Any] = field(default_factory=dict)  # core: op, client, status, key
    optional: bool = False  # hand-written traces: the actor may block or finish first


@dataclass
class Trace:
    scenario: str
    variant: str
    config: dict[str, Any]
    seed: int
    actors: list[str]
    outcome: str  # the outcome to reproduce
    detected_by: str = ""  # the actor that saw it
    complete: bool = True  # the events go back to the start of the run
    rounds: int = 0
    events: list[Event] = field(default_factory=list)
    testbed_version: str = __version__

    def steps(self) -> list[Step]:
        """The forced order: each actor point event is "run this actor until it gets there"."""
        return [Step(e.actor, e.point, e.optional) for e in self.events if e.kind == "point"]

    def point_events(self) -> list[Event]:
        return [e for e in self.events if e.kind == "point"]

    def with_events(self, events: list[Event]) -> Trace:
        other = Trace(**{k: v for k, v in self.__dict__.items() if k != "events"})
        other.events = list(events)
        return other

    def save(self, path: str | Path) -> Path:
        doc = {"format": FORMAT, "version": VERSION, **asdict(self)}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        try:
            doc = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise TraceError(f"trace {path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TraceError(f"trace {path} does not parse as JSON: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise TraceError(f'trace {path}: not a testbed trace (no "format": "{FORMAT}")')
        if doc.get("version") != VERSION:
            raise TraceError(
                f"trace {path}: format version {doc.get('version')!r}, this testbed "
                f"({__version__}) reads version {VERSION}"
            )
        try:
            events = [Event(**e) for e in doc.pop("events")]
            doc.pop("format"), doc.pop("version")
            trace = cls(**doc, events=events)
        except (TypeError, KeyError) as e:
            raise TraceError(f"trace {path}: malformed ({e})") from None
        for e in trace.events:
            if e.kind == "point" and e.actor not in trace.actors:
                raise TraceError(
                    f"trace {path}: event {e.ticket} names no actor of the trace: {e.actor!r}"
                )
        return trace
