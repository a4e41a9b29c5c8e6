"""What `env.words(...)`, `env.bitmap(...)`, `env.atomic(...)` and `env.lock(...)` hand an
actor under `--points access`: views whose every read and write (every bitmap or atomic
operation) is a schedule point, and locks whose every operation is one, with no change to
the scenario's code (testbed/trace/access_points.py names them).

A point comes just before its access. Recording takes the ticket in the same C call as the
access (recorder.c, tb_acc_*), so a trace orders the accesses as they happened and a replay
forces that order exactly; perturbation acts before the access; a controlled actor parks
before it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterator, MutableSequence
from typing import Any

from testbed.ipc.native import AtomicWord, Bitmap
from testbed.trace.access_points import SLICE, bits_what

# (code) -> None: a point's action before an access, code = what << 16 | point id
Before = Callable[[int], None]


class AccessWords(MutableSequence):
    """A region's 64-bit words, each access a schedule point. `load`, `store` and `copy`
    are the recording C builtins (testbed/ipc/access_hooks.c: the index checked, the access
    recorded and done, in one call), or None: plain accesses after `before`."""

    __slots__ = ("_view", "_n", "_rid", "_wid", "_before", "_load", "_store", "_copy")

    def __init__(
        self,
        view: memoryview,
        address: int,
        read_id: int,
        write_id: int,
        before: Before | None,
        recording: Any | None,
    ):
        self._view, self._n = view, len(view)
        self._rid, self._wid, self._before = read_id, write_id, before
        if recording is not None:
            self._load, self._store, self._copy = recording.tb_hook_words(
                read_id, write_id, address, self._n
            )
        else:
            self._load = self._store = self._copy = None

    def __len__(self) -> int:
        return self._n

    def _index(self, i: int) -> int:
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(f"word {i} outside 0..{self._n - 1}")
        return i

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            start, stop, step = i.indices(self._n)
            if step == 1:
                return self._read_slice(start, max(start, stop))
            picked = range(start, stop, step)
            if not picked:
                return []
            lo, hi = min(picked[0], picked[-1]), max(picked[0], picked[-1])
            words = self._read_slice(lo, hi + 1)  # the words from first to last: one access
            return [words[k - lo] for k in picked]
        if self._before is not None:
            self._before(self._index(i) << 16 | self._rid)
        if self._load is not None:
            return self._load(i)
        return self._view[self._index(i)]

    def _read_slice(self, start: int, stop: int) -> list[int]:
        """A slice read is one access (one point), named after its words."""
        n = stop - start
        if n == 0:
            return []
        if self._before is not None:
            self._before((n * SLICE + start) << 16 | self._rid)
        if self._copy is not None:
            return self._copy(start, n)
        return self._view[start:stop].tolist()

    def __setitem__(self, i: int | slice, value: Any) -> None:
        if isinstance(i, slice):
            start, stop, step = i.indices(self._n)
            values = list(value)
            indexes = range(start, stop, step)
            if len(values) != len(indexes):
                raise ValueError(f"{len(values)} values for {len(indexes)} words")
            for k, v in zip(indexes, values, strict=True):
                self[k] = v
            return
        i = self._index(i)
        if not 0 <= value < 1 << 64:
            raise ValueError(f"word value {value}: expected 0..2**64-1")
        if self._before is not None:
            self._before(i << 16 | self._wid)
        if self._store is not None:
            self._store(i, value)
        else:
            self._view[i] = value

    def __iter__(self) -> Iterator[int]:
        return iter(self[:])

    def __contains__(self, value: object) -> bool:
        return value in self[:]

    def tolist(self) -> list[int]:
        return self[:]

    def cast(self, fmt: str) -> memoryview:
        """The region as a plain memoryview of another format, without points: memory used
        as bytes (a PD's RAM in the MMU scenarios) is not shared words."""
        return self._view.cast("B").cast(fmt) if fmt != "B" else self._view.cast("B")

    def __delitem__(self, i: int | slice) -> None:
        raise TypeError("shared words cannot be deleted")

    def insert(self, index: int, value: int) -> None:
        raise TypeError("shared words cannot be inserted")


class ObservedWords(AccessWords):
    """AccessWords whose `before` only notes the access (explore at named points, where
    the runner needs a step's reads but accesses are not points); `cast` hands out memory
    whose accesses are not noted, so it says so (`on_cast`)."""

    __slots__ = ("_on_cast",)

    def __init__(self, view, address, read_id, write_id, before, recording, on_cast):
        super().__init__(view, address, read_id, write_id, before, recording)
        self._on_cast = on_cast

    def cast(self, fmt: str) -> memoryview:
        self._on_cast()
        return super().cast(fmt)


def access_words(
    view: memoryview,
    address: int,
    read_id: int,
    write_id: int,
    before: Before | None,
    recording: Any | None,
) -> AccessWords:
    """The view `env.words(...)` hands out. When its accesses record themselves and nothing
    runs before them (a free run that records, unperturbed), `[]` is the C builtins
    themselves, set on a subclass made for this view: no Python frame an access (through
    AccessWords' methods a word costs about 190 ns here, through the builtin 15-30 ns, and
    a creation of genode-race `fixed` makes about 22 accesses)."""
    if recording is None or before is not None:
        return AccessWords(view, address, read_id, write_id, before, recording)
    words = AccessWords(view, address, read_id, write_id, None, recording)
    direct = {"__slots__": (), "__getitem__": words._load, "__setitem__": words._store}
    words.__class__ = type("RecordedWords", (AccessWords,), direct)
    return words


class AccessBitmap:
    """A bitmap in a region (`testbed.ipc.native.Bitmap`'s methods), each operation one
    schedule point named after the words its range covers: `first_set`, `first_clear`,
    `any_set`, `count` read them, `set_range` and `clear_range` write them. With `recording`
    each operation is a C builtin that checks the range, does the operation and records it
    in one call (testbed/ipc/access_hooks.c); without, the plain Bitmap's, after `before`."""

    __slots__ = (
        "nbits", "_bits", "_rid", "_wid", "_before",
        "_first_set", "_first_clear", "_count", "_set", "_clear",
    )  # fmt: skip

    def __init__(
        self,
        address: int,
        nbits: int,
        read_id: int,
        write_id: int,
        before: Before | None,
        recording: Any | None,
    ):
        self.nbits, self._bits = nbits, Bitmap(address, nbits)
        self._rid, self._wid, self._before = read_id, write_id, before
        b = self._bits
        ops = (b.first_set, b.first_clear, b.count, b.set_range, b.clear_range)
        if recording is not None:
            ops = recording.tb_hook_bits(read_id, write_id, address, nbits)
        self._first_set, self._first_clear, self._count, self._set, self._clear = ops

    def _point(self, event: int, start: int, n: int) -> None:
        self._bits._check(start, n)
        self._before(bits_what(start, n) << 16 | event)

    def first_set(self, start: int, n: int) -> int:
        if self._before is not None:
            self._point(self._rid, start, n)
        return self._first_set(start, n)

    def first_clear(self, start: int, n: int) -> int:
        if self._before is not None:
            self._point(self._rid, start, n)
        return self._first_clear(start, n)

    def any_set(self, start: int, n: int) -> bool:
        return self.first_set(start, n) >= 0

    def count(self, start: int = 0, n: int | None = None) -> int:
        n = self.nbits - start if n is None else n
        if self._before is not None:
            self._point(self._rid, start, n)
        return self._count(start, n)

    def set_range(self, start: int, n: int) -> None:
        if self._before is not None:
            self._point(self._wid, start, n)
        self._set(start, n)

    def clear_range(self, start: int, n: int) -> None:
        if self._before is not None:
            self._point(self._wid, start, n)
        self._clear(start, n)


class AccessAtomic:
    """One word of a region (`testbed.ipc.native.AtomicWord`'s methods), each operation one
    schedule point: `load` reads the word, `store`, `cas` and `fetch_add` write it (the
    latter two read it as well: read-modify-writes, one point each)."""

    __slots__ = ("_word", "_index", "_base", "_rid", "_wid", "_before", "_rec")

    def __init__(
        self,
        address: int,
        index: int,
        read_id: int,
        write_id: int,
        before: Before | None,
        recording: Any | None,
    ):
        self._word, self._index = AtomicWord(address + 8 * index), index
        self._base = ctypes.c_void_p(address)
        self._rid, self._wid, self._before = read_id, write_id, before
        self._rec = recording

    @staticmethod
    def _value(value: int) -> int:
        if not 0 <= value < 1 << 64:
            raise ValueError(f"word value {value}: expected 0..2**64-1")
        return value

    def load(self) -> int:
        if self._before is not None:
            self._before(self._index << 16 | self._rid)
        if self._rec is not None:
            return self._rec.tb_acc_load(self._rid, self._base, self._index)
        return self._word.load()

    def store(self, value: int) -> None:
        self._value(value)
        if self._before is not None:
            self._before(self._index << 16 | self._wid)
        if self._rec is not None:
            self._rec.tb_acc_store(
                self._wid, self._base, self._index, value & 0xFFFFFFFF, value >> 32
            )
        else:
            self._word.store(value)

    def cas(self, expected: int, desired: int) -> int:
        self._value(expected), self._value(desired)
        if self._before is not None:
            self._before(self._index << 16 | self._wid)
        if self._rec is not None:
            return self._rec.tb_acc_cas(
                self._wid,
                self._base,
                self._index,
                expected & 0xFFFFFFFF,
                expected >> 32,
                desired & 0xFFFFFFFF,
                desired >> 32,
            )
        return self._word.cas(expected, desired)

    def fetch_add(self, value: int) -> int:
        self._value(value)
        if self._before is not None:
            self._before(self._index << 16 | self._wid)
        if self._rec is not None:
            return self._rec.tb_acc_fetch_add(
                self._wid, self._base, self._index, value & 0xFFFFFFFF, value >> 32
            )
        return self._word.fetch_add(value)


class PointedLock:
    """A lock whose acquire and release are schedule points: `L.acquire` before taking it,
    `L.acquired` once held, `L.release` before letting go."""

    __slots__ = ("lock", "point", "_acquire", "_acquired", "_release", "name")

    def __init__(self, lock: Any, name: str, point: Callable[[str], None]):
        self.lock, self.point, self.name = lock, point, name
        self._acquire, self._acquired, self._release = (
            f"{name}.acquire",
            f"{name}.acquired",
            f"{name}.release",
        )

    def acquire(self) -> None:
        self.point(self._acquire)
        self.lock.acquire()
        self.point(self._acquired)

    def release(self) -> None:
        self.point(self._release)
        self.lock.release()

    def __enter__(self) -> PointedLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
