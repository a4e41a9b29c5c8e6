"""The run's shared-memory segment: a layout of named regions and typed views of them.

The layout is a plain dict (name -> offset, size), computed once by the runner and handed
to every child, so all processes agree on where each region lies. Core's own regions
(`private`) are in no shared segment at all: core maps them privately, and a process that
is not core has no way to reach them. A PD's own regions (`pds`) are in a segment of that
PD's, mapped by its actors, core and the runner only (its name is gone once they have it),
as a Genode PD's memory is reachable by its threads and core, never by another PD.
Regions `read_only` (core's state actors must see: a page table) sit on pages of their own,
which an actor's process maps read-only (`mprotect`): a write from Python is a TypeError,
from C a SIGSEGV, as a write to a read-only page is on hardware.
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
    # a PD's own regions: PD -> (name -> offset, size) in that PD's segment, and its size
    pds: dict[int, dict[str, tuple[int, int]]] = field(default_factory=dict)
    pd_sizes: dict[int, int] = field(default_factory=dict)
    owner: dict[str, int] = field(default_factory=dict)  # a PD's region -> its PD
    read_only: set[str] = field(default_factory=set)  # actors map these read-only

    def taken(self, name: str) -> bool:
        return name in self.regions or name in self.private or name in self.owner

    def add(self, name: str, nbytes: int, read_only: bool = False) -> None:
        if self.taken(name):
            raise ValueError(f"region {name!r} declared twice")
        offset, self.size = _place(self.size, nbytes, read_only)
        self.regions[name] = (offset, nbytes)
        if read_only:
            self.read_only.add(name)

    def add_words(self, name: str, nwords: int, read_only: bool = False) -> None:
        self.add(name, 8 * nwords, read_only)

    def add_private_words(self, name: str, nwords: int) -> None:
        """A region of core's own: mapped by core only, in memory no other process shares."""
        if self.taken(name):
            raise ValueError(f"region {name!r} declared twice")
        offset = (self.private_size + ALIGN - 1) // ALIGN * ALIGN
        self.private[name] = (offset, 8 * nwords)
        self.private_size = offset + 8 * nwords

    def add_pd_words(self, pd: int, name: str, nwords: int, read_only: bool = False) -> None:
        """A region of PD `pd`'s own: in that PD's segment, mapped by its actors and core."""
        if self.taken(name):
            raise ValueError(f"region {name!r} declared twice")
        offset, self.pd_sizes[pd] = _place(self.pd_sizes.get(pd, 0), 8 * nwords, read_only)
        self.pds.setdefault(pd, {})[name] = (offset, 8 * nwords)
        self.owner[name] = pd
        if read_only:
            self.read_only.add(name)

    def shared_size(self) -> int:
        """Bytes of /dev/shm the segments take (the run's and every PD's), whole pages."""
        return sum(max(n, mmap.PAGESIZE) for n in (self.size, *self.pd_sizes.values()))


def _place(end: int, nbytes: int, read_only: bool) -> tuple[int, int]:
    """(offset, new end) of a region of `nbytes` after `end`: a cache line apart, or, read
    only, on whole pages of its own (what `mprotect` works on)."""
    align = mmap.PAGESIZE if read_only else ALIGN
    offset = (end + align - 1) // align * align
    if read_only:
        return offset, offset + (nbytes + align - 1) // align * align
    return offset, offset + nbytes


_libc = ctypes.CDLL(None, use_errno=True)
PROT_READ = 1


def pd_segment_name(name: str, pd: int) -> str:
    """The name of PD `pd`'s segment, beside the run's segment `name`."""
    return f"{name.removesuffix('.seg')}.pd{pd}"


def _open(name: str, size: int, create: bool) -> mmap.mmap:
    """An mmap of the named segment `name` of `size` bytes, created (and backed) or opened."""
    flags = posix_ipc.O_CREX if create else 0
    shm = posix_ipc.SharedMemory(name, flags, size=size if create else 0)
    try:
        if create:
            try:
                reserve(shm.fd, size, name)
            except NoSpace:
                shm.unlink()
                raise
        return mmap.mmap(shm.fd, size)
    finally:
        shm.close_fd()


class Segment:
    """An mmap of the named segment; `create` makes and zeroes it, `attach` opens it. `pds`:
    the PDs whose own segments this process maps (None: every PD's, as the runner and core
    do; an actor maps its own PD's only)."""

    def __init__(
        self,
        name: str,
        layout: Layout,
        create: bool,
        pds: list[int] | None = None,
        protect: bool = False,
    ):
        self.name, self.layout = name, layout
        self.mm = _open(name, max(layout.size, mmap.PAGESIZE), create)
        self.base = address_of(self.mm)
        self._views: list[memoryview] = []
        self._words: dict[str, memoryview] = {}
        self._private: mmap.mmap | None = None
        self._pd_maps: dict[int, tuple[mmap.mmap, int]] = {}
        try:
            for pd in sorted(layout.pds) if pds is None else [p for p in pds if p in layout.pds]:
                size = max(layout.pd_sizes[pd], mmap.PAGESIZE)
                mm = _open(pd_segment_name(name, pd), size, create)
                self._pd_maps[pd] = (mm, address_of(mm))
        except BaseException:
            if create:
                for pd in layout.pds:
                    unlink_shm(pd_segment_name(name, pd))
                unlink_shm(name)
            raise
        self.protected: set[str] = set()  # read-only here (an actor's process)
        if protect:
            self._protect()

    def _protect(self) -> None:
        """An actor's process: its mapping of each read-only region it reaches, read-only."""
        for region in sorted(self.layout.read_only):
            if not self.reaches(region):
                continue
            _, base, offset, nbytes = self._where(region)
            length = (nbytes + mmap.PAGESIZE - 1) // mmap.PAGESIZE * mmap.PAGESIZE
            if length and _libc.mprotect(
                ctypes.c_void_p(base + offset), ctypes.c_size_t(length), PROT_READ
            ):
                raise OSError(ctypes.get_errno(), f"mprotect of region {region!r} failed")
            self.protected.add(region)

    @property
    def pds(self) -> list[int]:
        """The PDs whose own regions this process maps."""
        return sorted(self._pd_maps)

    def pd_names(self) -> list[str]:
        """The names of every PD's segment of the run."""
        return [pd_segment_name(self.name, pd) for pd in sorted(self.layout.pds)]

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
        pd = self.layout.owner.get(region)
        if pd is not None:
            if pd not in self._pd_maps:
                raise PermissionError(
                    f"region {region!r} belongs to PD {pd}: only PD {pd}'s actors and core map "
                    f"it ({self._mine()})"
                )
            mm, base = self._pd_maps[pd]
            offset, nbytes = self.layout.pds[pd][region]
            return mm, base, offset, nbytes
        offset, nbytes = self.layout.regions[region]
        return self.mm, self.base, offset, nbytes

    def _mine(self) -> str:
        if not self._pd_maps:
            return "this process maps no PD's own regions"
        return "this process maps PD " + ", ".join(map(str, self._pd_maps)) + "'s"

    def reaches(self, region: str) -> bool:
        """Can this process reach `region` (a shared region, or one of a PD it maps)?"""
        pd = self.layout.owner.get(region)
        return region in self.layout.regions if pd is None else pd in self._pd_maps

    def span(self, region: str) -> tuple[int, int]:
        """(address, bytes) of a region: what a reset zeroes."""
        _, base, offset, nbytes = self._where(region)
        return base + offset, nbytes

    @classmethod
    def create(cls, name: str, layout: Layout) -> Segment:
        return cls(name, layout, create=True)

    @classmethod
    def attach(
        cls, name: str, layout: Layout, pds: list[int] | None = None, protect: bool = False
    ) -> Segment:
        return cls(name, layout, create=False, pds=pds, protect=protect)

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
            if region in self.protected:  # a write is a TypeError, not a SIGSEGV
                view = view.toreadonly()
                self._views.append(view)
            self._words[region] = view
        return view

    def bytes(self, region: str) -> memoryview:
        mm, _, offset, nbytes = self._where(region)
        view = memoryview(mm)[offset : offset + nbytes]
        self._views.append(view)
        if region in self.protected:
            view = view.toreadonly()
            self._views.append(view)
        return view

    def close(self) -> None:
        for v in reversed(self._views):  # a read-only view before the view it was made of
            v.release()
        self._views.clear()
        for mm in (self.mm, self._private, *(m for m, _ in self._pd_maps.values())):
            try:
                if mm is not None:
                    mm.close()
            except BufferError:  # a view still exported by a caller: the mapping goes at exit
                pass

    def unlink(self) -> None:
        unlink_shm(self.name)
        for name in self.pd_names():
            unlink_shm(name)
