"""Broken Genode context allocators, each a few lines apart from a correct one in
context_allocator.py (`Fixed` or `Bitalloc`): bugs to kill, for measuring how fast a way of
running finds a bug whose window is wide (across requests to core) or narrow (a few
bytecodes, one C call). Each docstring names its window: between which two steps another
thread must act, and what it must do there.

The allocators that keep state beyond the thread list and the slot bits get it as
attributes: `slot_words` (the slot bitmap as 64-bit words), `free_words` and `cas` (a
lock-free stack of free slots: word 0 the head, word s+1 the slot after slot s, slot + 1
values, 0 for none).
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence

from kernel_model.genode.context_allocator import (
    Bitalloc,
    ContextAllocator,
    Fixed,
    Quickfix,
    Racy,
)
from kernel_model.genode.errors import Reason, StackAllocFailed
from kernel_model.genode.layout import NUM_SLOTS, context_address
from kernel_model.genode.stack import Stack


class IpcWindow(Racy):
    """Window: both requests to core. `_context` is assigned after them, so another thread's
    search in between sees the slot free (the 2010 report)."""


class EarlyUnlock(Quickfix):
    """Window: a few bytecodes. alloc_lock is released just before `_context` is assigned
    (the reporter's quick fix): another creator's whole search must fit in between."""


class UnlockedRemove(Fixed):
    """Window: a few bytecodes inside `ThreadList.remove`, between its read of the
    high-water mark and its write. Destroy removes without `_threads_lock`; an insert in
    between raises the mark, the remove writes the old one back, and the new record is no
    longer searched: its slot looks free."""

    def destroy(self, stack: Stack) -> None:
        self._unback(stack)
        self._release_slot(stack.record, stack.slot)  # no _threads_lock


class UnlockedInsert(Fixed):
    """Window: a few bytecodes inside `ThreadList.insert` (read the mark, write it), the
    other side of UnlockedRemove: the search runs under `_threads_lock`, the insert after
    it is released; a remove in between lowers the mark under the new record."""

    def _alloc(self) -> tuple[int, int]:
        with self.threads_lock:
            for slot in range(self.first_slot, NUM_SLOTS):
                self.point("search.slot")
                if not self.threads.is_in_use(context_address(slot)):
                    break
            else:
                raise StackAllocFailed(Reason.OUT_OF_STACK_SPACE, "search.slot")
        self.point("list.insert")
        return self.threads.insert(), slot  # no _threads_lock


class CheckThenLock(Fixed):
    """Window: taking `_threads_lock`. The free slot is searched without any lock, then the
    record is inserted and its context published at once under the lock: two creators can
    both have searched before either publishes."""

    def _create(self, stack_size: int) -> Stack:
        slot = self._free_slot()  # no lock
        with self.threads_lock:
            self.point("list.insert")
            record = self.threads.insert()
            self.threads.assign(record, context_address(slot))
        return self._back(record, slot, stack_size)

    def _free_slot(self) -> int:
        for slot in range(self.first_slot, NUM_SLOTS):
            self.point("search.slot")
            if not self.threads.is_in_use(context_address(slot)):
                return slot
        raise StackAllocFailed(Reason.OUT_OF_STACK_SPACE, "search.slot")


class TornContext(CheckThenLock):
    """Window: a few bytecodes between the two halves of a 64-bit store. The context is
    published at search time under `_threads_lock` (correct without alloc_lock), but written
    as two 32-bit halves, high then low, with the lock released between them: a search in
    between reads the half-written value (high half only: unset) and takes the slot."""

    def _create(self, stack_size: int) -> Stack:
        with self.threads_lock:
            slot = self._free_slot()
            self.point("list.insert")
            record = self.threads.insert()
            context = context_address(slot)
            self.threads.assign(record, context >> 32 << 32)  # the high half
        self.point("context.assign")
        self.threads.assign(record, context)  # the low half, after the lock
        return self._back(record, slot, stack_size)


class ListFreeEarly(Fixed):
    """Window: both of destroy's requests to core. The record leaves the list before the
    stack is detached: a creator in between picks the slot while it is still attached."""

    def destroy(self, stack: Stack) -> None:
        with self.threads_lock:
            self._release_slot(stack.record, stack.slot)  # too early
        self._unback(stack)


class BitUnlocked(Bitalloc):
    """Window: one C call. The slot bit is found (`first_clear`) and set (`set_range`) by two
    calls with no lock around them: two creators between them take the same bit."""

    def _create(self, stack_size: int) -> Stack:
        slot = self._reserve_slot()  # no _threads_lock
        return self._back(0, slot, stack_size)


class BitFreeEarly(Bitalloc):
    """Window: both of destroy's requests to core. The slot bit is cleared before the stack
    is detached (a release before detach)."""

    def destroy(self, stack: Stack) -> None:
        with self.threads_lock:
            self._release_slot(stack.record, stack.slot)  # too early
        self._unback(stack)


class BitLostRelease(Bitalloc):
    """Window: a few bytecodes between a read and a write of shared memory. Destroy clears
    its slot bit by reading the bitmap word and writing it back, without `_threads_lock`: a
    creator's reservation in between is overwritten, and its slot is handed out again."""

    slot_words: MutableSequence[int]

    def destroy(self, stack: Stack) -> None:
        self._unback(stack)
        self.point("bits.release")
        word, bit = divmod(stack.slot, 64)
        self.slot_words[word] = self.slot_words[word] & ~(1 << bit)  # no lock


class AbaFreeStack(ContextAllocator):
    """Window: between a pop's read of the head's successor and its compare-and-swap. Free
    slots are a lock-free stack; if, meanwhile, other threads pop the head, pop its
    successor and push the head back, the CAS still succeeds (the head is the same value:
    ABA) and installs a successor that is in use. Bitalloc's lock, or a tag, prevents it."""

    first_slot = 1  # slot 0 is the main thread's
    free_words: MutableSequence[int]
    cas: Callable[[int, int], int]  # (expected, desired) on the head word -> old value

    def _create(self, stack_size: int) -> Stack:
        return self._back(0, self._pop(), stack_size)

    def _pop(self) -> int:
        w = self.free_words
        while True:
            self.point("bits.reserve")
            head = w[0]
            if head == 0:
                raise StackAllocFailed(Reason.OUT_OF_STACK_SPACE, "bits.reserve")
            after = w[head]  # the successor of slot head - 1
            if self.cas(head, after) == head:
                return head - 1

    def _release_slot(self, record: int, slot: int) -> None:
        self.point("bits.release")
        w = self.free_words
        while True:
            head = w[0]
            w[slot + 1] = head
            if self.cas(head, slot + 1) == head:
                return

    @staticmethod
    def fill(words: MutableSequence[int], first_slot: int = 1) -> None:
        """Every slot from `first_slot` free, lowest on top."""
        words[0] = first_slot + 1
        for s in range(first_slot, NUM_SLOTS):
            words[s + 1] = s + 2 if s + 1 < NUM_SLOTS else 0


class LockInversion(Fixed):
    """Window: holding one lock while taking the other. Create takes alloc_lock, then
    `_threads_lock`; this destroy takes `_threads_lock`, then alloc_lock: a creator and a
    destroyer each holding their first lock wait for each other for ever (a deadlock)."""

    def destroy(self, stack: Stack) -> None:
        self._unback(stack)
        with self.threads_lock:
            with self.alloc_lock:  # the other order
                self._release_slot(stack.record, stack.slot)


MUTANTS: dict[str, type[ContextAllocator]] = {
    "ipc_window": IpcWindow,
    "early_unlock": EarlyUnlock,
    "unlocked_remove": UnlockedRemove,
    "unlocked_insert": UnlockedInsert,
    "check_then_lock": CheckThenLock,
    "torn_context": TornContext,
    "list_free_early": ListFreeEarly,
    "bit_unlocked": BitUnlocked,
    "bit_free_early": BitFreeEarly,
    "bit_lost_release": BitLostRelease,
    "aba_free_stack": AbaFreeStack,
    "lock_inversion": LockInversion,
}
CORRECT: dict[str, type[ContextAllocator]] = {"fixed": Fixed, "bitalloc": Bitalloc}
