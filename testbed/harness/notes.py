"""What an actor tells `testbed explain` during its replay: each access of shared words with
the values it read or wrote, each lock taken and released, each point and outcome, and the
line of the scenario's code that made it; one JSON line each, in a file of the actor's own.

A replay runs one actor at a time, so an access's values are read from the words beside it
(a read's just before, a write's at the actor's next note, before it can park) and a shared
counter (the control block's ticket, unused in a replay) orders every note of the run.
"""

from __future__ import annotations

import json
import linecache
import os
import sys
import sysconfig
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from testbed.harness import reuse
from testbed.ipc import control
from testbed.trace import access_points

if TYPE_CHECKING:
    from testbed.harness.actor import Env

_OWN = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # testbed/
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_BRIDGE = os.path.join(_OWN, "native", "bridge.py")
MAX_VALUES = 8  # words of one access whose values a note keeps (a slice read may be long)
MAX_STATE_WORDS = 256  # a region's words an outcome's note keeps, if it is that small


def notes_file(directory: str, index: int) -> str:
    return os.path.join(directory, f"{index}.jsonl")


def source_line(env: Env) -> dict[str, Any]:
    """Where the scenario's code made the call being noted: the first frame outside the
    testbed and the standard library (the scenario's file, or the model it calls). A call
    that came up from native code (a C actor's tb_load) is where its C code made it, if the
    library can tell (testbed/native/lines.py)."""
    f = sys._getframe(1)
    while f is not None:
        name = f.f_code.co_filename
        if name == _BRIDGE:
            return {"native": True, **_native_line(env)}
        if not (name.startswith((_OWN, _STDLIB, "<"))):
            break
        f = f.f_back
    if f is None:
        return {}
    line = f.f_lineno
    return {
        "file": name,
        "line": line,
        "function": f.f_code.co_name,
        "code": linecache.getline(name, line).strip(),
    }


def _native_line(env: Env) -> dict[str, Any]:
    bridge = env._native_bridge
    if bridge is None or not env.access:  # (the return address is kept for an access only)
        return {}
    from testbed.native.lines import source_line as c_line

    return c_line(bridge.s.caller or 0)


class Notes:
    """One actor's notes. `step` counts the times it parked: the runner's steps of it."""

    def __init__(
        self, env: Env, directory: str, core_event: Callable[[int, int, int], dict] | None = None
    ):
        self.env, self.actor = env, env.actor.name
        self.core_event = core_event  # the scenario's names of core's ops and statuses
        self.file = open(notes_file(directory, env.actor.index), "w", buffering=1)  # noqa: SIM115
        self.ticket = env.seg.address("control", control.TICKET)
        # the regions this actor reaches (not another PD's own: Scenario.pd_owned)
        self.views = {r: env.seg.words(r) for r in env.regions if env.seg.reaches(r)}
        self.named = reuse.observed_families(list(env.regions))  # ids of observed accesses
        self.step = 0
        self.pending: tuple[dict[str, Any], str, range] | None = None  # a write, values unread
        self.opaque_noted = False

    # -- what the hooks call ---------------------------------------------------------------
    def observed(self, code: int) -> None:
        """An access at named points (not a point: noted, nothing else)."""
        self._access(code, self.named)

    def around_access(self, park: Callable[[int], None]) -> Callable[[int], None]:
        """An access point's hook (`--points access`): park, then note the access, whose
        values nobody can change before it happens."""

        def before(code: int) -> None:
            self.settle()
            park(code)
            self.step += 1
            self._access(code, self.env.spec.points)

        return before

    def around_point(self, park: Callable[[str], None]) -> Callable[[str], None]:
        def point(name: str) -> None:
            self._note({"kind": "point", "point": name})
            park(name)
            self.step += 1

        return point

    def around_core(self, call: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
        """A request to core, noted with its answer (core's state is its own: the request
        is what the story can show of it)."""

        def noted(op: int, a0: int = 0, a1: int = 0, a2: int = 0) -> tuple[int, int]:
            self.settle()
            status, value = call(op, a0, a1, a2)
            note = {"kind": "core", "op": int(op), "args": [a0, a1, a2],
                    "status": int(status), "value": value}  # fmt: skip
            note.update(self._core_names(int(op), int(status)))
            self._note(note)
            return status, value

        return noted

    def _core_names(self, op: int, status: int) -> dict[str, str]:
        """The scenario's names of the op and the status (`Scenario.core_event`), where it
        gives them as names: the story then reads `ATTACH_AT(...) -> OK`, not numbers."""
        if self.core_event is None:
            return {}
        try:
            named = self.core_event(op, status, 0)
        except Exception:  # a scenario's describer that fails costs the names, not the story
            return {}
        return {f"{k}_name": named[k] for k in ("op", "status") if isinstance(named.get(k), str)}

    def lock(self, lock: Any, name: str) -> NotedLock:
        return NotedLock(lock, name, self)

    def outcome(self, name: str) -> None:
        state = {r: v.tolist() for r, v in self.views.items() if 0 < len(v) <= MAX_STATE_WORDS}
        self._note({"kind": "outcome", "outcome": name, "state": state})

    def opaque(self, native: bool) -> None:
        """The actor reached memory by address (native code, env.address, a cast): its
        accesses there are not seen (a native one's are at --points access)."""
        if not self.opaque_noted:
            self.opaque_noted = True
            self._note({"kind": "opaque", "native": native})

    def settle(self) -> None:
        """The last write's values, read now: before this actor can park, after its store."""
        if self.pending is None:
            return
        note, region, span = self.pending
        self.pending = None
        note["values"] = self._values(region, span)
        self._write(note)

    def close(self) -> None:
        self.settle()
        self.file.close()

    # -- the notes -------------------------------------------------------------------------
    def _access(self, code: int, table: list[str]) -> None:
        self.settle()
        name = access_points.name(table, code & 0xFFFF, code >> 16)
        region, span, writes = access_points.words(name)
        values = self._values(region, span)
        note = {
            "kind": "write" if writes else "read",
            "region": region,
            "words": [span.start, span.stop],
            "values": values,
        }
        if writes:
            note["was"] = values
        self._note(note, pending=(region, span) if writes else None)

    def _values(self, region: str, span: range) -> list[int] | None:
        if len(span) > MAX_VALUES:
            return None
        view = self.views[region]
        return [view[i] for i in span]

    def _note(self, note: dict[str, Any], pending: tuple[str, range] | None = None) -> None:
        self.settle()
        note["seq"] = self.env.atomics.fetch_add(self.ticket, 1)
        note["actor"], note["step"] = self.actor, self.step
        note["at"] = source_line(self.env)
        if pending is not None:
            self.pending = (note, *pending)
        else:
            self._write(note)

    def _write(self, note: dict[str, Any]) -> None:
        self.file.write(json.dumps(note, separators=(",", ":")) + "\n")


class NotedLock:
    """A lock whose acquire (once held) and release are noted, with the line that made them."""

    def __init__(self, lock: Any, name: str, notes: Notes):
        self.lock, self.name, self._notes = lock, name, notes

    def acquire(self) -> None:
        self._notes.settle()
        # noted before it blocks: an actor that never gets the lock (a deadlock) is seen
        # waiting, where it asked for it
        self._notes._note({"kind": "wait", "lock": self.name})
        self.lock.acquire()
        self._notes._note({"kind": "acquire", "lock": self.name})

    def release(self) -> None:
        self._notes._note({"kind": "release", "lock": self.name})
        self.lock.release()

    def __enter__(self) -> NotedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lock, name)
