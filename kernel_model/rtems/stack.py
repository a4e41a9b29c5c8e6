"""RTEMS protected-stack attributes: a stack record with its access flag and up to 8 shares.

From the student's branch (seeds/rtems-thread-stack-isolation.txt, DESIGN.md "Details of the
RTEMS code"): flags are bits, at most 8 shares a stack, a ninth is refused (RTEMS_TOO_MANY).
Records are kept in shared memory as plain words, so every CPU reads the same attributes.
"""

from __future__ import annotations

from collections.abc import MutableSequence
from dataclasses import dataclass, field
from enum import IntEnum

from kernel_model.page_table import Perm

MAX_SHARES = 8  # the branch's stack record holds 8 shares; a ninth is refused
RTEMS_TOO_MANY = 5  # rtems_status_code of the refusal


class Access(IntEnum):
    """The branch's memory flags (CACHED 4 is not modelled)."""

    NO_ACCESS = 0  # an empty descriptor: a translation fault
    READ_ONLY = 1  # ARMv7 AP=101
    WRITE_ONLY = 2  # no ARMv7 AP encodes write-only: translated as READ_WRITE
    READ_WRITE = 3  # ARMv7 AP=001


def perm_of(access: Access) -> Perm:
    """The page-table permission a flag translates to (memory_translate_flags)."""
    if access == Access.WRITE_ONLY:
        return Perm.RW
    return Perm(int(access))


class TooManyShares(ValueError):
    """A ninth share: RTEMS answers RTEMS_TOO_MANY."""

    status = RTEMS_TOO_MANY


@dataclass(frozen=True)
class Share:
    access: Access
    address: int
    size: int


@dataclass
class StackRecord:
    address: int
    size: int
    access: Access = Access.READ_WRITE
    shares: list[Share] = field(default_factory=list)

    def add_share(self, share: Share) -> None:
        if len(self.shares) >= MAX_SHARES:
            raise TooManyShares(
                f"share {len(self.shares) + 1} of the stack at {self.address:#x}: "
                f"RTEMS_TOO_MANY, a stack holds at most {MAX_SHARES} shares"
            )
        self.shares.append(share)

    def contains(self, address: int, size: int) -> bool:
        return self.address <= address and address + size <= self.address + self.size

    def share_at(self, address: int) -> Share | None:
        for s in self.shares:
            if s.address <= address < s.address + s.size:
                return s
        return None


HEADER = 4  # address, size, access, number of shares
RECORD_WORDS = HEADER + 3 * MAX_SHARES


class StackRecords:
    """The chain of protected stacks, as an array of fixed-size records in words."""

    def __init__(self, words: MutableSequence[int]):
        self.words = words

    @staticmethod
    def words_needed(n: int) -> int:
        return n * RECORD_WORDS

    def store(self, index: int, rec: StackRecord) -> None:
        w, b = self.words, index * RECORD_WORDS
        w[b : b + HEADER] = _ints(rec.address, rec.size, int(rec.access), len(rec.shares))
        for k, s in enumerate(rec.shares):
            o = b + HEADER + 3 * k
            w[o : o + 3] = _ints(int(s.access), s.address, s.size)

    def load(self, index: int) -> StackRecord:
        w, b = self.words, index * RECORD_WORDS
        address, size, access, n = w[b : b + HEADER]
        shares = []
        for k in range(n):
            o = b + HEADER + 3 * k
            shares.append(Share(Access(w[o]), w[o + 1], w[o + 2]))
        return StackRecord(address, size, Access(access), shares)


def _ints(*values: int):
    import array

    return array.array("Q", values)
