"""The run's one shared-memory segment: a layout of named regions and typed views of them.

The layout is a plain dict (name -> offset, size), computed once by the runner and handed
to every child, so all processes agree on where each region lies.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field

import posix_ipc

from testbed.ipc.native import address_of

ALIGN = 64  # a cache line: regions written by different processes never share one


@dataclass
class Layout:
    regions: dict[str, tuple[int, int]] = field(default_factory=dict)
    size: int = 0

    def add(self, name: str, nbytes: int) -> None:
        if name in self.regions:
            raise ValueError(f"region {name!r} declared twice")
        offset = (self.size + ALIGN - 1) // ALIGN * ALIGN
        self.regions[name] = (offset, nbytes)
        self.size = offset + nbytes

    def add_words(self, name: str, nwords: int) -> None:
        self.add(name, 8 * nwords)


class Segment:
    """An mmap of the named segment; `create` makes and zeroes it, `attach` opens it."""

    def __init__(self, name: str, layout: Layout, create: bool):
        self.name, self.layout = name, layout
        size = max(layout.size, mmap.PAGESIZE)
        flags = posix_ipc.O_CREX if create else 0
        shm = posix_ipc.SharedMemory(name, flags, size=size if create else 0)
        try:
            self.mm = mmap.mmap(shm.fd, size)
        finally:
            shm.close_fd()
        self.base = address_of(self.mm)
        self._views: list[memoryview] = []
        self._words: dict[str, memoryview] = {}

    @classmethod
    def create(cls, name: str, layout: Layout) -> Segment:
        return cls(name, layout, create=True)

    @classmethod
    def attach(cls, name: str, layout: Layout) -> Segment:
        return cls(name, layout, create=False)

    def address(self, region: str, word: int = 0) -> int:
        return self.base + self.layout.regions[region][0] + 8 * word

    def words(self, region: str) -> memoryview:
        """The region as an array of unsigned 64-bit words: one view a region, shared by
        every caller (an iterating body asks for it once an iteration; don't release it)."""
        view = self._words.get(region)
        if view is None:
            offset, nbytes = self.layout.regions[region]
            view = memoryview(self.mm)[offset : offset + nbytes].cast("Q")
            self._views.append(view)
            self._words[region] = view
        return view

    def bytes(self, region: str) -> memoryview:
        offset, nbytes = self.layout.regions[region]
        view = memoryview(self.mm)[offset : offset + nbytes]
        self._views.append(view)
        return view

    def close(self) -> None:
        for v in self._views:
            v.release()
        self._views.clear()
        try:
            self.mm.close()
        except BufferError:  # a view still exported by a caller: the mapping goes at exit
            pass

    def unlink(self) -> None:
        try:
            posix_ipc.unlink_shared_memory(self.name)
        except posix_ipc.ExistentialError:
            pass
