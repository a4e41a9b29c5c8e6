"""Core's RAM service: dataspaces allocated and freed on behalf of a PD.

Each PD has its own quota and its own dataspace limit, as each Genode component has its own
RAM session: one PD exhausting its memory never makes another PD's allocation fail.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kernel_model.genode.layout import page_round_up
from kernel_model.genode.status import Status


@dataclass
class Dataspace:
    owner: int
    size: int
    attached: int = 0  # how many region-map attachments use it


class RamService:
    def __init__(self, quota_bytes: int, max_dataspaces: int = 1 << 16):
        """`quota_bytes` and `max_dataspaces` are each PD's own."""
        self.quota, self.max_dataspaces = quota_bytes, max_dataspaces
        self.used: dict[int, int] = defaultdict(int)  # bytes, by PD
        self.count: dict[int, int] = defaultdict(int)  # dataspaces, by PD
        self._next_id = 1
        self.dataspaces: dict[int, Dataspace] = {}

    @property
    def next_id(self) -> int:
        """The id the next dataspace allocated gets (ids start at 1 and are never reused);
        read-only, for comparing this model's state with another core's (the C one's)."""
        return self._next_id

    def alloc(self, pd: int, size: int) -> tuple[Status, int]:
        if size <= 0:
            return Status.INVALID_SIZE, 0
        size = page_round_up(size)
        if self.used[pd] + size > self.quota or self.count[pd] >= self.max_dataspaces:
            return Status.OUT_OF_RAM, 0
        ds = self._next_id
        self._next_id += 1
        self.dataspaces[ds] = Dataspace(pd, size)
        self.used[pd] += size
        self.count[pd] += 1
        return Status.OK, ds

    def lookup(self, pd: int, ds: int) -> Dataspace | None:
        """The dataspace `ds` if `pd` owns it: a PD cannot use another PD's memory."""
        d = self.dataspaces.get(ds)
        return d if d is not None and d.owner == pd else None

    def free(self, pd: int, ds: int) -> Status:
        d = self.lookup(pd, ds)
        if d is None:
            return Status.INVALID_DATASPACE
        if d.attached:
            return Status.DATASPACE_ATTACHED
        del self.dataspaces[ds]
        self.used[pd] -= d.size
        self.count[pd] -= 1
        return Status.OK
