"""The built-in perturbation strategies, registered in the order the help lists them.
`auto` (auto.py) composes the ones registered here and registers itself after them."""

from __future__ import annotations

from testbed.harness.perturb.base import REGISTRY, register
from testbed.harness.perturb.delay import DELAY
from testbed.harness.perturb.none import NONE
from testbed.harness.perturb.os_pct import OS_PRIORITY_PCT
from testbed.harness.perturb.yield_ import YIELD

for _strategy in (NONE, YIELD, DELAY, OS_PRIORITY_PCT):
    register(_strategy)

__all__ = ["REGISTRY"]
