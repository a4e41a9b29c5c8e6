"""A PD's list of thread records, as Genode's 2010 Context_allocator keeps it (`_threads`).

Each record holds the thread's `_context` address; `_is_in_use` walks the list comparing
contexts. The records live in shared memory (an array of 64-bit words handed in): word 0
is the high-water mark, words 1.. the records. Insert and remove happen under
`_threads_lock`; the context is written by whoever the allocator variant lets write it.

The two accesses the 2010 race is between, one thread's `assign` and another's
`is_in_use`, can be handed to the caller (`assign_hook`, `find_hook`): a testbed that
records the order of steps does each access in the same call that takes its place in the
order, so the order recorded is the order the accesses happened in (a schedule point comes
a microsecond or so of Python before its access, and two CPUs can pass two points in one
order and do their accesses in the other). The hooks must do exactly what the plain code
does; the list knows nothing of who calls them.
"""

from __future__ import annotations

from collections.abc import Callable

FREE = (1 << 64) - 1  # not in the list
UNSET = 0  # in the list, `_context` not yet assigned: the report's window


class ThreadListFull(Exception):
    pass


class ThreadList:
    __slots__ = ("_words", "capacity", "_assign_hook", "_find_hook")

    def __init__(
        self,
        words: memoryview,
        assign_hook: Callable[[int, int], None] | None = None,
        find_hook: Callable[[int, int], bool] | None = None,
    ):
        """`assign_hook(record, context)`, if given, writes word `record` (what `assign`
        does); `find_hook(context, n)` answers whether `context` is among the `n` words from
        word 1 (what `is_in_use` does)."""
        self._words = words  # memoryview cast to 'Q'
        self.capacity = len(words) - 1
        self._assign_hook, self._find_hook = assign_hook, find_hook

    @staticmethod
    def words_needed(capacity: int) -> int:
        return capacity + 1

    def reset(self) -> None:
        self._words[0] = 0
        for i in range(1, self.capacity + 1):
            self._words[i] = FREE

    def insert(self) -> int:
        """Put a new record into the list with its context unset; answers its index."""
        w = self._words
        for i in range(1, self.capacity + 1):
            if w[i] == FREE:
                w[i] = UNSET
                if i > w[0]:
                    w[0] = i
                return i
        raise ThreadListFull(f"thread list full ({self.capacity} records)")

    def assign(self, record: int, context: int) -> None:
        if self._assign_hook is None:
            self._words[record] = context
        else:
            self._assign_hook(record, context)

    def remove(self, record: int) -> None:
        w = self._words
        w[record] = FREE
        top = w[0]
        while top and w[top] == FREE:
            top -= 1
        w[0] = top

    def is_in_use(self, context: int) -> bool:
        """Genode's `_is_in_use`: does any thread in the list point at this context?"""
        if self._find_hook is None:
            return context in self._words[1 : self._words[0] + 1]
        return self._find_hook(context, self._words[0])

    def contexts(self) -> list[int]:
        return [c for c in self._words[1 : self._words[0] + 1] if c != FREE]
