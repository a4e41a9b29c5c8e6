"""Status codes core answers to every request; a bad request gets one, never a crash."""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    OK = 0
    REGION_CONFLICT = 1  # attach over an occupied range (Genode: Region_conflict)
    OUT_OF_RAM = 2
    INVALID_PD = 3
    INVALID_RANGE = 4  # outside the stack area
    UNALIGNED = 5  # offset or size not page-aligned
    INVALID_SIZE = 6
    INVALID_DATASPACE = 7  # unknown, or owned by another PD
    NOT_ATTACHED = 8
    DATASPACE_ATTACHED = 9  # freeing a dataspace that is still attached
    INVALID_OP = 10
    DATASPACE_TOO_SMALL = 11
    UNRESOLVABLE_FAULT = 12  # no attachment backs the faulting address (core: "illegal fault")
    INVALID_ARGUMENT = 13  # an argument a mailbox word cannot hold (outside 0..2**64-1)
