"""Names of access-level schedule points (`--points access`): every read and write of a
shared word an actor makes through `env.words(...)`, every operation on an `env.bitmap(...)`
or an `env.atomic(...)`, and every lock operation.

A point id stands for a region and a kind (`threads[].r`, `threads[].w`); the word rides in
the event's `what` (the index, or `start | count << 24` for a slice), so a trace names the
word (`threads[3].w`, `threads[1:5].r`) without a point id a word. Lock points are plain
names: `L.acquire` (before taking L), `L.acquired` (once held), `L.release` (before letting
go), as the named points of a lock are.

A bitmap operation is named after the words its bit range covers (`slots[0].r` for a
`first_clear` within word 0, `slots[0].w` for a `set_range`); an atomic word's `cas` and
`fetch_add` are `.w`. A write point may read its words too (a CAS, a fetch_add, a bit range
set or cleared keep what they do not change): `words` says so, for the explorer, which
derives a step's footprint from its point.
"""

from __future__ import annotations

import re

from testbed.scenario import ConfigError
from testbed.trace.ids import CORE_EVENT

MODES = ("named", "access")
MAX_IDS = CORE_EVENT  # point ids live below core's and outcomes' event ids
SLICE = 1 << 24  # what = start | count * SLICE for a slice read
_NAME = re.compile(r"(?P<region>.+)\[(?P<start>\d+)(?::(?P<stop>\d+))?\]\.(?P<kind>[rw])")


def bits_what(start: int, n: int) -> int:
    """The `what` of a bitmap operation on bits [start, start+n): the words they cover
    (as recorder.c's bm_what computes it)."""
    first = start // 64
    count = (start + n - 1) // 64 + 1 - first if n else 1
    return first if count == 1 else count * SLICE + first


def read_family(region: str) -> str:
    return f"{region}[].r"


def write_family(region: str) -> str:
    return f"{region}[].w"


def lock_points(lock: str) -> tuple[str, str, str]:
    return f"{lock}.acquire", f"{lock}.acquired", f"{lock}.release"


def all_points(
    named: tuple[str, ...] | list[str], regions: list[str], locks: list[str]
) -> list[str]:
    """The point list of an access-level run: the named points, then a read and a write
    family a region, then each lock's three points (ids are indexes in this list)."""
    points = list(named)
    seen = set(points)
    for name in [f for r in regions for f in (read_family(r), write_family(r))] + [
        p for lock in locks for p in lock_points(lock)
    ]:
        if name not in seen:
            points.append(name)
            seen.add(name)
    if len(points) > MAX_IDS:
        raise ConfigError(
            f"--points access: {len(points)} schedule points (named, two a region, three a "
            f"lock), expected at most {MAX_IDS}"
        )
    return points


def name(points: list[str], event: int, what: int) -> str:
    """The name of event `event` (a point id) with `what`: a family gets its word."""
    base = points[event]
    if not base.endswith(("[].r", "[].w")):
        return base
    start, count = what % SLICE, what // SLICE
    index = f"{start}:{start + count}" if count else f"{start}"
    return f"{base[:-4]}[{index}]{base[-2:]}"


def family(point: str) -> str | None:
    """`threads[3].w` -> `threads[].w`; None for a name that is not an access to a word."""
    m = _NAME.fullmatch(point)
    return f"{m['region']}[].{m['kind']}" if m else None


def known(points: list[str], point: str) -> bool:
    """Is `point` a point of this run (a named point, a lock's, or a word of a region)?"""
    return point in points or family(point) in points


def words(point: str) -> tuple[str, range, bool] | None:
    """`slots[0:2].w` -> ("slots", range(0, 2), True): the region, its words, and whether the
    access may write them. Every access reads its words (a write point may be a
    read-modify-write: a CAS, a fetch_add, a bit range). None for a name that is not an
    access to words."""
    m = _NAME.fullmatch(point)
    if m is None:
        return None
    start = int(m["start"])
    stop = int(m["stop"]) if m["stop"] is not None else start + 1
    return m["region"], range(start, stop), m["kind"] == "w"
