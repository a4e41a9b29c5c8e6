"""How the Genode model fails: a refused stack allocation (an outcome of the experiment)
and a refusal from core the model never expects (a bug in the model, not an outcome)."""

from __future__ import annotations

from enum import Enum


class Reason(Enum):
    REGION_CONFLICT = "region_conflict"
    OUT_OF_STACK_SPACE = "out_of_stack_space"
    STACK_TOO_LARGE = "stack_too_large"


class CoreRefused(RuntimeError):
    """Core refused a request the model never expects to fail: a bug, not an outcome."""


class StackAllocFailed(Exception):
    """Genode's Stack_alloc_failed, with the reason and the schedule point where it showed."""

    def __init__(self, reason: Reason, point: str, detail: str = ""):
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason, self.point = reason, point
