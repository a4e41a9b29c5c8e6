"""A PD's list of thread records, as Genode's 2010 Context_allocator keeps it (`_threads`).

Each record holds the thread's `_context` address; `_is_in_use` walks the list comparing
contexts. The records live in shared memory (an array of 64-bit words handed in): word 0
is the high-water mark, words 1.. the records. Insert and remove happen under
`_threads_lock`; the context is written by whoever the allocator variant lets write it.
"""

from __future__ import annotations

FREE = (1 << 64) - 1  # not in the list
UNSET = 0  # in the list, `_context` not yet assigned: the report's window


class ThreadListFull(Exception):
    pass


class ThreadList:
    __slots__ = ("_words", "capacity")

    def __init__(self, words: memoryview):
        self._words = words  # memoryview cast to 'Q'
        self.capacity = len(words) - 1

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
        self._words[record] = context

    def remove(self, record: int) -> None:
        w = self._words
        w[record] = FREE
        top = w[0]
        while top and w[top] == FREE:
            top -= 1
        w[0] = top

    def is_in_use(self, context: int) -> bool:
        """Genode's `_is_in_use`: does any thread in the list point at this context?"""
        return context in self._words[1 : self._words[0] + 1]

    def contexts(self) -> list[int]:
        return [c for c in self._words[1 : self._words[0] + 1] if c != FREE]
