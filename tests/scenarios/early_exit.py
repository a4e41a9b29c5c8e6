"""An actor whose body ends its process before it returns (issue 20, item 3): the run must
end as aborted (exit 3) naming it, whatever the exit code. A user's file, run from a temp
dir by tests/test_untrusted.py."""

from __future__ import annotations

import os
import sys

from testbed import Grade, Outcome, Scenario

VARIANTS = {
    "sys_exit": "the body calls sys.exit(0)",
    "os_exit": "the body calls os._exit(0)",
    "returns": "the body returns (the control: exit 0)",
}


class EarlyExit(Scenario):
    name = "early-exit"
    description = "an actor that ends its process inside its body"
    variants = VARIANTS
    outcomes = (Outcome("ran", "the body ran", {v: Grade.ACCEPTABLE for v in VARIANTS}),)

    def actors(self, config):
        return [("quitter", {}), ("worker", {})]

    def run_actor(self, env, actor):
        env.record("ran")
        if actor.name == "quitter":
            if env.config["variant"] == "sys_exit":
                sys.exit(0)
            if env.config["variant"] == "os_exit":
                os._exit(0)


SCENARIO = EarlyExit()
