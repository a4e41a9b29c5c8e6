"""A small per-CPU TLB: a direct-mapped cache of page translations, in words it is given.

An entry is 0 (invalid) or ((page + 1) << 2) | perm. The TLB is in shared memory so that
another CPU can invalidate it (a shootdown); a CPU that is not told keeps stale entries.
"""

from __future__ import annotations

from collections.abc import MutableSequence

from kernel_model.page_table import Perm

ENTRIES = 16


class Tlb:
    def __init__(self, words: MutableSequence[int], entries: int = ENTRIES):
        self.words, self.entries = words, entries

    def lookup(self, page: int) -> Perm | None:
        e = self.words[page % self.entries]
        if e and (e >> 2) == page + 1:
            return Perm(e & 3)
        return None

    def fill(self, page: int, perm: Perm) -> None:
        self.words[page % self.entries] = ((page + 1) << 2) | int(perm)

    def invalidate(self, first: int, n: int) -> int:
        """Drop the entries of pages [first, first+n); answers how many were valid."""
        w, dropped = self.words, 0
        if n >= self.entries:  # scan every entry once rather than every page
            for i in range(self.entries):
                e = w[i]
                if e and first <= (e >> 2) - 1 < first + n:
                    w[i] = 0
                    dropped += 1
            return dropped
        for page in range(first, first + n):
            i = page % self.entries
            e = w[i]
            if e and (e >> 2) == page + 1:
                w[i] = 0
                dropped += 1
        return dropped

    def flush(self) -> None:
        for i in range(self.entries):
            self.words[i] = 0
