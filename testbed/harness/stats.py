"""Per-actor counters in shared memory: each actor writes only its own slot, so no atomics.

Slot words: attempts, done, pid, first_failure_ns, voluntary and involuntary context
switches, the time of its error (monotonic ns, so the runner names failures in time order), then one counter per outcome, then per outcome the schedule point where it was
first detected (point index + 1, 0 for none), then an error message (UTF-8, NUL-padded).
"""

from __future__ import annotations

from dataclasses import dataclass

ATTEMPTS, DONE, PID, FIRST_FAILURE_NS, VCS, IVCS, STRATEGY, ERROR_NS = range(8)
# STRATEGY: under --perturb auto, the catalogue index + 1 of the strategy active at the
# actor's first failure; ERROR_NS: when it failed (monotonic ns)
MAX_OUTCOMES = 16
COUNTS = 8
DETECTED = COUNTS + MAX_OUTCOMES
ERROR = DETECTED + MAX_OUTCOMES
ERROR_WORDS = 32
WORDS = ERROR + ERROR_WORDS
NO_FAILURE = (1 << 64) - 1


def write_error(slot: memoryview, message: str) -> None:
    raw = message.encode()[: 8 * ERROR_WORDS - 1].ljust(8 * ERROR_WORDS, b"\0")
    slot.cast("B")[8 * ERROR : 8 * WORDS] = raw


def read_error(slot: memoryview) -> str:
    return bytes(slot.cast("B")[8 * ERROR : 8 * WORDS]).rstrip(b"\0").decode(errors="replace")


@dataclass
class Totals:
    attempts: int
    counts: list[int]
    first_failure_ns: int | None
    voluntary: int
    involuntary: int
    detected: list[int]  # per outcome: point index + 1 where first detected, 0 for none


def totals(words: memoryview, nactors: int, noutcomes: int) -> Totals:
    attempts, vcs, ivcs = 0, 0, 0
    counts = [0] * noutcomes
    detected = [0] * noutcomes
    first = NO_FAILURE
    for a in range(nactors):
        b = a * WORDS
        attempts += words[b + ATTEMPTS]
        vcs += words[b + VCS]
        ivcs += words[b + IVCS]
        first = min(first, words[b + FIRST_FAILURE_NS])
        for k in range(noutcomes):
            counts[k] += words[b + COUNTS + k]
            detected[k] = detected[k] or words[b + DETECTED + k]
    return Totals(attempts, counts, None if first == NO_FAILURE else first, vcs, ivcs, detected)
