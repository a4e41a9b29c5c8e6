"""The one gate an actor's points, accesses and locks pass (loom's `rt::branch`), chosen once
a run (shuttle's schedulers, one file each):

- `Free` (stress): the OS schedules; recording and perturbation act at points;
- `Controlled` (replay, minimize, a forced script): the runner lets one actor take one step
  at a time, and an actor parks at every point, access and taken lock;
- `Reused` (explore): controlled, on processes kept from schedule to schedule.

A gate answers the hooks `Env` installs (`point`, `before_access`, `lock`, `core_call`) and
runs the actor's life (`live`): its start, its body once or its iterations, its end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from testbed.harness.gate.controlled import Controlled
from testbed.harness.gate.free import Free
from testbed.harness.gate.reused import Reused

if TYPE_CHECKING:
    from testbed.harness.actor import Env
    from testbed.scenario import Scenario

__all__ = ["Controlled", "Free", "Gate", "Reused", "choose"]


class Gate(Protocol):
    point: Callable[[str], None]  # what `env.point` is
    lock_point: Callable[[str], None]  # what a lock's points are at named level
    records_accesses: bool  # accesses record their event in their own C call

    def before_access(self) -> Callable[[int], None] | None:
        """What runs before each access under --points access (given `what << 16 | id`)."""
        ...

    def lock(self, name: str) -> Any:
        """The lock `name` as this gate's actors take it."""
        ...

    def core_call(self, call: Callable[..., tuple[int, int]]) -> Callable[..., tuple[int, int]]:
        """The request call as this gate's actors make it."""
        ...

    def live(self, scenario: Scenario) -> None:
        """The actor's life, from its start to its end."""
        ...


def choose(env: Env) -> Gate:
    spec = env.spec
    if spec.reuse:
        return Reused(env)
    if spec.controlled:
        return Controlled(env)
    return Free(env)
