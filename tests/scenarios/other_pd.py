"""PD 0 tries to act as PD 1 in every way the run's memory and names offered before the
isolation of issue 20 (PD 1's mailbox, core's bitmaps, PD 1's own region and lock); PD 1
then works as if PD 0 did nothing. Not a scenario of the tree:
a user's file, run from a temp dir by tests/test_isolation.py.

Each attempt of PD 0 is an outcome: `no_access` when the harness gave it no way in,
`breached` (FORBIDDEN) when it got one. PD 1 records `intact` when core answers it as a
fresh PD (its quota whole, its range free, no reply it did not ask for, its own region as it
wrote it, its own lock free), `harmed` otherwise.
"""

from __future__ import annotations

import ctypes
import mmap
import time

import posix_ipc

from kernel_model.genode import layout
from kernel_model.genode.core import Core, Op
from testbed import Grade, Outcome, Scenario
from testbed.ipc.native import Bitmap

ACC, FORB = Grade.ACCEPTABLE, Grade.FORBIDDEN
VARIANTS = {"python": "core in Python (kernel_model/genode/core.py)"}
OFFSET = 5 * layout.SLOT_SIZE  # where PD 1 attaches, and PD 0 would have marked it taken
ATTEMPTS = (
    "open_mailboxes_by_name",  # the mailbox segment, by its name
    "map_mailboxes_region",  # the mailboxes as a region of the shared segment
    "map_other_mailbox",  # PD 1's page of the mailbox segment, through its own mapping
    "write_core_bitmap",  # core's page bitmap of PD 1
    "post_other_reply",  # PD 1's reply semaphore
    "write_other_region",  # PD 1's own region, through the actor's env
    "address_other_region",  # ... by its address, for C code
    "map_other_region",  # ... through the actor's segment
    "open_other_segment_by_name",  # PD 1's segment, by its name
    "take_other_lock",  # PD 1's own lock, through the actor's env
    "open_other_lock_by_name",  # ... its semaphore, by its name
)
MINE = 0x5EED  # what PD 1 writes into its own region


class OtherPd(Scenario):
    name = "other-pd"
    description = "PD 0 writes into PD 1's mailbox and core's bitmaps; PD 1 must not notice"
    variants = VARIANTS
    outcomes = (
        Outcome("no_access", "PD 0 had no way to reach PD 1", {v: ACC for v in VARIANTS}),
        Outcome("breached", "PD 0 reached PD 1's or core's state", {v: FORB for v in VARIANTS}),
        Outcome("intact", "PD 1 was served as a fresh PD", {v: ACC for v in VARIANTS}),
        Outcome("harmed", "PD 1 saw what PD 0 did", {v: FORB for v in VARIANTS}),
    )

    def actors(self, config):
        return [("pd0.main", {"pd": 0}), ("pd1.main", {"pd": 1})]

    def regions(self, config):
        return {"sync": 1, "pd0.list": 4, "pd1.list": 4}

    def locks(self, config):
        return ["pd0.lock", "pd1.lock"]

    def pd_owned(self, config):
        return {"pd0.list": 0, "pd1.list": 1, "pd0.lock": 0, "pd1.lock": 1}

    def core_regions(self, config):
        return {f"pd{pd}.pages": Bitmap.words(layout.AREA_PAGES) for pd in (0, 1)}

    def core(self, seg, config):
        return Core(
            2,
            lambda pd: Bitmap(seg.address(f"pd{pd}.pages"), layout.AREA_PAGES),
            ram_quota=layout.SLOT_SIZE,  # one slot's worth: a stolen allocation shows
        )

    def run_actor(self, env, actor):
        sync = env.words("sync")
        if actor.pd == 0:
            if not _wait(env, sync, 1):
                return
            for attempt in ATTEMPTS:
                env.record("breached" if _attempt(env, attempt) else "no_access")
            # PD 1's pending bit: a hint anyone can set; core must not replay PD 1's last
            # request (a RAM allocation) for it
            for _ in range(20):
                env.seg.words("pending")[0] |= 1 << 1
                time.sleep(0.002)
            sync[0] = 2
            return
        call = env.core_call(1)
        half = layout.SLOT_SIZE // 2
        st, ds = call(int(Op.RAM_ALLOC), half)
        mine = env.words("pd1.list")
        mine[:] = memoryview(bytes(32)).cast("Q")
        mine[0] = MINE
        sync[0] = 1
        if st != 0 or not _wait(env, sync, 2):
            return
        if list(mine) != [MINE, 0, 0, 0]:
            env.record("harmed")
            return
        lock = env.lock("pd1.lock")  # free: PD 0 never held it (else: a lock timeout, exit 3)
        lock.acquire()
        lock.release()
        st, ds2 = call(int(Op.RAM_ALLOC), half)  # the rest of the quota: none stolen
        if st != 0:
            env.record("harmed")
            return
        st, _ = call(int(Op.ATTACH_AT), ds, OFFSET, half)  # no page of it marked by PD 0
        env.record("intact" if st == 0 else "harmed")


def _wait(env, sync, value: int) -> bool:
    while sync[0] != value:
        if env.stopping():
            return False
        time.sleep(0.001)
    return True


def _attempt(env, attempt: str) -> bool:
    """True if PD 0 got write access to what `attempt` names (and wrote into it)."""
    spec = env.spec
    try:
        if attempt == "open_mailboxes_by_name":
            shm = posix_ipc.SharedMemory(spec.prefix + ".mbox")
            mm = mmap.mmap(shm.fd, mmap.PAGESIZE * 2)
            mm[mmap.PAGESIZE + 8 : mmap.PAGESIZE + 16] = (int(Op.RAM_ALLOC)).to_bytes(8, "little")
            return True
        if attempt == "map_mailboxes_region":
            env.seg.words("mailboxes")[8 + 1] = int(Op.RAM_ALLOC)
            return True
        if attempt == "map_other_mailbox":
            env.boxes.words(1)[1] = int(Op.RAM_ALLOC)
            return True
        if attempt == "write_core_bitmap":
            env.seg.words("pd1.pages")[OFFSET // layout.PAGE_SIZE // 64] = ~0 & (2**64 - 1)
            return True
        if attempt == "post_other_reply":
            posix_ipc.Semaphore(spec.reply_sem(1)).release()
            return True
        if attempt == "write_other_region":
            env.words("pd1.list")[0] = 666
            return True
        if attempt == "address_other_region":
            ctypes.c_uint64.from_address(env.address("pd1.list")).value = 666
            return True
        if attempt == "map_other_region":
            env.seg.words("pd1.list")[0] = 666
            return True
        if attempt == "open_other_segment_by_name":
            shm = posix_ipc.SharedMemory(spec.prefix + ".pd1")
            mm = mmap.mmap(shm.fd, mmap.PAGESIZE)
            mm[0:8] = (666).to_bytes(8, "little")
            return True
        if attempt == "take_other_lock":
            env.lock("pd1.lock").acquire()
            return True
        if attempt == "open_other_lock_by_name":
            posix_ipc.Semaphore(spec.lock_sem("pd1.lock")).acquire(0)
            return True
    except (posix_ipc.ExistentialError, KeyError, PermissionError):
        return False
    raise AssertionError(attempt)


SCENARIO = OtherPd()
