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
    are the recording C calls (or None: plain accesses after `before`)."""

    __slots__ = ("_view", "_n", "_rid", "_wid", "_before", "_load", "_store", "_copy", "_base")

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
        self._base = ctypes.c_void_p(address)
        if recording is not None:
            self._load, self._store, self._copy = (
                recording.tb_acc_load,
                recording.tb_acc_store,
                recording.tb_acc_copy,
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
            if step != 1:
                return self[start:stop][::step]
            return self._read_slice(start, max(start, stop))
        i = self._index(i)
        if self._before is not None:
            self._before(i << 16 | self._rid)
        if self._load is not None:
            return self._load(self._rid, self._base, i)
        return self._view[i]

    def _read_slice(self, start: int, stop: int) -> list[int]:
        """A slice read is one access (one point), named after its words."""
        n = stop - start
        if n == 0:
            return []
        code = (n * SLICE + start) << 16 | self._rid
        if self._before is not None:
            self._before(code)
        if self._copy is not None:
            out = (ctypes.c_uint64 * n)()
            self._copy(self._rid, self._base, start, n, out)
            return list(out)
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
            self._store(self._wid, self._base, i, value & 0xFFFFFFFF, value >> 32)
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


class AccessBitmap:
    """A bitmap in a region (`testbed.ipc.native.Bitmap`'s methods), each operation one
    schedule point named after the words its range covers: `first_set`, `first_clear`,
    `any_set`, `count` read them, `set_range` and `clear_range` write them. `recording` does
    the operation and records it in one C call (None: the plain C call after `before`)."""

    __slots__ = ("nbits", "_bits", "_addr", "_rid", "_wid", "_before", "_rec")

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
        self._addr = ctypes.c_void_p(address)
        self._rid, self._wid, self._before = read_id, write_id, before
        self._rec = recording

    def _point(self, event: int, start: int, n: int) -> None:
        self._bits._check(start, n)
        if self._before is not None:
            self._before(bits_what(start, n) << 16 | event)

    def first_set(self, start: int, n: int) -> int:
        self._point(self._rid, start, n)
        if self._rec is not None:
            return self._rec.tb_acc_bm_first_set(self._rid, self._addr, start, n)
        return self._bits.first_set(start, n)

    def first_clear(self, start: int, n: int) -> int:
        self._point(self._rid, start, n)
        if self._rec is not None:
            return self._rec.tb_acc_bm_first_clear(self._rid, self._addr, start, n)
        return self._bits.first_clear(start, n)

    def any_set(self, start: int, n: int) -> bool:
        return self.first_set(start, n) >= 0

    def count(self, start: int = 0, n: int | None = None) -> int:
        n = self.nbits - start if n is None else n
        self._point(self._rid, start, n)
        if self._rec is not None:
            return self._rec.tb_acc_bm_count(self._rid, self._addr, start, n)
        return self._bits.count(start, n)

    def _apply(self, start: int, n: int, set_: int) -> None:
        self._point(self._wid, start, n)
        if self._rec is not None:
            self._rec.tb_acc_bm_apply(self._wid, self._addr, start, n, set_)
        elif set_:
            self._bits.set_range(start, n)
        else:
            self._bits.clear_range(start, n)

    def set_range(self, start: int, n: int) -> None:
        self._apply(start, n, 1)

    def clear_range(self, start: int, n: int) -> None:
        self._apply(start, n, 0)


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
