"""The run's shared-memory segment: a layout of named regions and typed views of them.

The layout is a plain dict (name -> offset, size), computed once by the runner and handed
to every child, so all processes agree on where each region lies. Core's own regions
(`private`) are in no shared segment at all: core maps them privately, and a process that
is not core has no way to reach them.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import shutil
from dataclasses import dataclass, field

import posix_ipc

from testbed.ipc.native import address_of

ALIGN = 64  # a cache line: regions written by different processes never share one


SHM_DIR = "/dev/shm"


class NoSpace(OSError):
    """/dev/shm cannot hold what the run maps: the message names it and the size needed."""


def free_shm() -> int:
    """Bytes free in /dev/shm (0 if it cannot be read)."""
    try:
        return shutil.disk_usage(SHM_DIR).free
    except OSError:
        return 0


def reserve(fd: int, size: int, name: str) -> None:
    """Back every page of a new segment now: a full /dev/shm is then this error, naming it
    and the size, rather than a SIGBUS in whichever process first touches a page."""
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError as e:
        if e.errno not in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG):
            raise
        raise NoSpace(
            e.errno,
            f"{SHM_DIR} has {free_shm():,} bytes free; the run's segment {name} needs "
            f"{size:,} bytes (a larger /dev/shm, e.g. `docker run --shm-size`, or a smaller "
            "run: fewer actors, a smaller --ring-events)",
        ) from None


def unlink_shm(name: str) -> None:
    """Unlink a segment's name (mappings stay valid); quietly if it is gone already."""
    try:
        posix_ipc.unlink_shared_memory(name)
    except posix_ipc.ExistentialError:
        pass


@dataclass
class Layout:
    regions: dict[str, tuple[int, int]] = field(default_factory=dict)
    size: int = 0
    private: dict[str, tuple[int, int]] = field(default_factory=dict)  # core's own
    private_size: int = 0

    def add(self, name: str, nbytes: int) -> None:
        if name in self.regions or name in self.private:
            raise ValueError(f"region {name!r} declared twice")
        offset = (self.size + ALIGN - 1) // ALIGN * ALIGN
        self.regions[name] = (offset, nbytes)
        self.size = offset + nbytes

    def add_words(self, name: str, nwords: int) -> None:
        self.add(name, 8 * nwords)

    def add_private_words(self, name: str, nwords: int) -> None:
        """A region of core's own: mapped by core only, in memory no other process shares."""
        if name in self.regions or name in self.private:
            raise ValueError(f"region {name!r} declared twice")
        offset = (self.private_size + ALIGN - 1) // ALIGN * ALIGN
        self.private[name] = (offset, 8 * nwords)
        self.private_size = offset + 8 * nwords


class Segment:
    """An mmap of the named segment; `create` makes and zeroes it, `attach` opens it."""

    def __init__(self, name: str, layout: Layout, create: bool):
        self.name, self.layout = name, layout
        size = max(layout.size, mmap.PAGESIZE)
        flags = posix_ipc.O_CREX if create else 0
        shm = posix_ipc.SharedMemory(name, flags, size=size if create else 0)
        try:
            if create:
                try:
                    reserve(shm.fd, size, name)
                except NoSpace:
                    shm.unlink()
                    raise
            self.mm = mmap.mmap(shm.fd, size)
        finally:
            shm.close_fd()
        self.base = address_of(self.mm)
        self._views: list[memoryview] = []
        self._words: dict[str, memoryview] = {}
        self._private: mmap.mmap | None = None

    def map_private(self) -> None:
        """Core: map its own regions, zeroed, in memory of this process alone."""
        if self._private is None and self.layout.private:
            self._private = mmap.mmap(-1, max(self.layout.private_size, mmap.PAGESIZE))
            self._private_base = address_of(self._private)

    def zero_private(self) -> None:
        """Core: its own regions back as a new run has them (a reused run's next iteration)."""
        if self._private is not None:
            ctypes.memset(self._private_base, 0, len(self._private))

    def _where(self, region: str) -> tuple[mmap.mmap, int, int, int]:
        """(mapping, its address, offset, size) of a region, wherever it lies."""
        if region in self.layout.private:
            if self._private is None:
                raise PermissionError(
                    f"region {region!r} is core's own: only core maps it (an actor has no access)"
                )
            offset, nbytes = self.layout.private[region]
            return self._private, self._private_base, offset, nbytes
        offset, nbytes = self.layout.regions[region]
        return self.mm, self.base, offset, nbytes

    @classmethod
    def create(cls, name: str, layout: Layout) -> Segment:
        return cls(name, layout, create=True)

    @classmethod
    def attach(cls, name: str, layout: Layout) -> Segment:
        return cls(name, layout, create=False)

    def address(self, region: str, word: int = 0) -> int:
        _, base, offset, _ = self._where(region)
        return base + offset + 8 * word

    def words(self, region: str) -> memoryview:
        """The region as an array of unsigned 64-bit words: one view a region, shared by
        every caller (an iterating body asks for it once an iteration; don't release it)."""
        view = self._words.get(region)
        if view is None:
            mm, _, offset, nbytes = self._where(region)
            view = memoryview(mm)[offset : offset + nbytes].cast("Q")
            self._views.append(view)
            self._words[region] = view
        return view

    def bytes(self, region: str) -> memoryview:
        mm, _, offset, nbytes = self._where(region)
        view = memoryview(mm)[offset : offset + nbytes]
        self._views.append(view)
        return view

    def close(self) -> None:
        for v in self._views:
            v.release()
        self._views.clear()
        for mm in (self.mm, self._private):
            try:
                if mm is not None:
                    mm.close()
            except BufferError:  # a view still exported by a caller: the mapping goes at exit
                pass

    def unlink(self) -> None:
        unlink_shm(self.name)
