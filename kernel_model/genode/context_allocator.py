"""Genode's thread-context (stack) allocator in four variants: the 2010 race, its fixes.

Read the four `_create` methods side by side: they differ only in where the locks are
and when the slot becomes visible to other threads of the PD.
- racy: `_threads_lock` covers search and insert; `_context` is assigned after the two
  requests to core, so another thread can pick the same slot (report, 2010).
- quickfix: the reporter's `alloc_lock` around `_alloc_context`, released just before
  `_context` is assigned: a gap of a few instructions remains.
- fixed: `alloc_lock` held until `_context` is assigned.
- bitalloc: Genode's design since 2014 (issue 1024): a slot bit is reserved under the
  lock before any request to core; slot 0 is kept for the main thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from kernel_model.genode.core import CoreConnection
from kernel_model.genode.errors import CoreRefused, Reason, StackAllocFailed
from kernel_model.genode.layout import (
    AREA_BASE,
    MAX_STACK_SIZE,
    NUM_SLOTS,
    context_address,
    stack_ds_size,
    stack_offset,
)
from kernel_model.genode.stack import Stack
from kernel_model.genode.status import Status
from kernel_model.genode.thread_list import ThreadList, ThreadListFull


class Lock(Protocol):
    def acquire(self) -> None: ...
    def release(self) -> None: ...


class SlotBits(Protocol):
    def first_clear(self, start: int, n: int) -> int: ...
    def set_range(self, start: int, n: int) -> None: ...
    def clear_range(self, start: int, n: int) -> None: ...


# Schedule points, in the order a creation passes them. Tests and traces name them. A
# point comes just before the step it names; `L.acquired` and `core.reply` come just after
# theirs (the lock taken, core's answer), which is what lets a replay order them exactly.
POINTS = (
    "create",
    "alloc_lock.acquire",
    "alloc_lock.acquired",
    "threads_lock.acquire",
    "threads_lock.acquired",
    "search.slot",
    "list.insert",
    "bits.reserve",
    "threads_lock.release",
    "core.ram_alloc",
    "core.attach_at",
    "core.reply",
    "alloc_lock.release",
    "context.assign",
    "core.detach",
    "core.ram_free",
    "list.remove",
    "bits.release",
)


def _nothing(name: str) -> None:
    pass


class _Held:
    """`with` a lock, passing its schedule points (a class: cheaper than a generator):
    `L.acquire` before taking it, `L.acquired` once held, `L.release` before letting go."""

    __slots__ = ("lock", "acquire_point", "acquired_point", "release_point", "point")

    def __init__(self, lock: Lock, name: str, point: Callable[[str], None]):
        self.lock, self.point = lock, point
        self.acquire_point, self.acquired_point = name + ".acquire", name + ".acquired"
        self.release_point = name + ".release"

    def __enter__(self) -> None:
        self.point(self.acquire_point)
        self.lock.acquire()
        self.point(self.acquired_point)

    def __exit__(self, *exc) -> None:
        self.point(self.release_point)
        self.lock.release()


class ContextAllocator:
    variant = ""
    first_slot = 0

    def __init__(
        self,
        threads: ThreadList,
        threads_lock: Lock,
        alloc_lock: Lock,
        core: CoreConnection,
        slot_bits: SlotBits | None = None,
        point: Callable[[str], None] | None = None,
    ):
        self.threads, self.core, self.slot_bits = threads, core, slot_bits
        self.point = point = point or _nothing
        self.threads_lock = _Held(threads_lock, "threads_lock", point)
        self.alloc_lock = _Held(alloc_lock, "alloc_lock", point)

    # -- public ---------------------------------------------------------------------------
    def create(self, stack_size: int) -> Stack:
        """Allocate and back a stack for a new thread; raises StackAllocFailed."""
        self.point("create")
        if not 0 < stack_size <= MAX_STACK_SIZE:
            raise StackAllocFailed(
                Reason.STACK_TOO_LARGE,
                "create",
                f"{stack_size} bytes, the slot fits 1..{MAX_STACK_SIZE}",
            )
        return self._create(stack_size)

    def destroy(self, stack: Stack) -> None:
        """Detach and free the stack, then make its slot free again (in that order)."""
        self._unback(stack)
        with self.threads_lock:
            self._release_slot(stack.record, stack.slot)

    def _unback(self, stack: Stack) -> None:
        """`destroy`'s two requests to core: detach, then free the RAM."""
        ds, offset, _ = stack.mappings[0]
        self.point("core.detach")
        self.core.detach(offset)
        self.point("core.reply")
        self.point("core.ram_free")
        self.core.ram_free(ds)
        self.point("core.reply")

    # -- the variants' one difference ------------------------------------------------------
    def _create(self, stack_size: int) -> Stack:
        raise NotImplementedError

    # -- steps shared by the variants ------------------------------------------------------
    def _alloc(self) -> tuple[int, int]:
        """Context_allocator::alloc: find a slot no listed thread uses, insert a record."""
        with self.threads_lock:
            for slot in range(self.first_slot, NUM_SLOTS):
                self.point("search.slot")
                if not self.threads.is_in_use(context_address(slot)):
                    self.point("list.insert")
                    try:
                        return self.threads.insert(), slot
                    except ThreadListFull as e:
                        raise StackAllocFailed(
                            Reason.OUT_OF_STACK_SPACE, "list.insert", str(e)
                        ) from None
        raise StackAllocFailed(
            Reason.OUT_OF_STACK_SPACE, "search.slot", f"all {NUM_SLOTS} slots in use"
        )

    def _back(self, record: int, slot: int, stack_size: int) -> Stack:
        """The two requests to core: a RAM dataspace, attached at the top of the slot."""
        size = stack_ds_size(stack_size)
        offset = stack_offset(slot, stack_size)
        self.point("core.ram_alloc")
        st, ds = self.core.ram_alloc(size)
        self.point("core.reply")
        if st != Status.OK:
            self._undo(record, slot)
            raise CoreRefused(f"ram_alloc({size}) answered {st.name}")
        self.point("core.attach_at")
        st, _ = self.core.attach_at(ds, offset, size)
        self.point("core.reply")
        if st != Status.OK:
            self.point("core.ram_free")  # a replay orders this request by its reply
            self.core.ram_free(ds)
            self.point("core.reply")
            self._undo(record, slot)
            if st != Status.REGION_CONFLICT:
                raise CoreRefused(f"attach_at({ds}, {offset:#x}, {size:#x}) answered {st.name}")
            raise StackAllocFailed(
                Reason.REGION_CONFLICT, "core.attach_at", f"slot {slot} at offset {offset:#x}"
            )
        return Stack(slot, AREA_BASE + offset, [(ds, offset, size)], record)

    def _assign(self, stack: Stack) -> None:
        """Thread_base::_context = ...: from here on `_is_in_use` sees the slot."""
        self.point("context.assign")
        self.threads.assign(stack.record, stack.top)

    def _undo(self, record: int, slot: int) -> None:
        with self.threads_lock:
            self._release_slot(record, slot)

    def _release_slot(self, record: int, slot: int) -> None:
        self.point("list.remove")
        self.threads.remove(record)


class Racy(ContextAllocator):
    variant = "racy"

    def _create(self, stack_size: int) -> Stack:
        record, slot = self._alloc()
        stack = self._back(record, slot, stack_size)
        self._assign(stack)  # too late: the slot looked free during both requests
        return stack


class Quickfix(ContextAllocator):
    variant = "quickfix"

    def _create(self, stack_size: int) -> Stack:
        with self.alloc_lock:
            record, slot = self._alloc()
            stack = self._back(record, slot, stack_size)
        self._assign(stack)  # the gap: alloc_lock released, _context still unset
        return stack


class Fixed(ContextAllocator):
    variant = "fixed"

    def _create(self, stack_size: int) -> Stack:
        with self.alloc_lock:
            record, slot = self._alloc()
            stack = self._back(record, slot, stack_size)
            self._assign(stack)
        return stack


class Bitalloc(ContextAllocator):
    variant = "bitalloc"
    first_slot = 1  # slot 0 is the main thread's

    def _create(self, stack_size: int) -> Stack:
        with self.threads_lock:
            slot = self._reserve_slot()  # owned before any request to core
        return self._back(0, slot, stack_size)

    def _reserve_slot(self) -> int:
        self.point("bits.reserve")
        n = NUM_SLOTS - self.first_slot
        slot = self.slot_bits.first_clear(self.first_slot, n)
        if slot < 0:
            raise StackAllocFailed(
                Reason.OUT_OF_STACK_SPACE, "bits.reserve", f"all {n} slots in use"
            )
        self.slot_bits.set_range(slot, 1)
        return slot

    def _release_slot(self, record: int, slot: int) -> None:
        self.point("bits.release")
        self.slot_bits.clear_range(slot, 1)


VARIANTS: dict[str, type[ContextAllocator]] = {
    cls.variant: cls for cls in (Racy, Quickfix, Fixed, Bitalloc)
}
