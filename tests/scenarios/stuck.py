"""Actors that stop themselves (SIGSTOP) or the core, with or without a lock, or exit
holding it (tests/test_stuck.py): each run must end with exit 3 naming its root cause."""

import os
import signal

import psutil

from testbed import Grade, Outcome, Scenario


class Stuck(Scenario):
    name = "stuck"
    variants = {v: "a fault" for v in ("stop-holder", "stop-idle", "stop-core", "exit-holding")}
    outcomes = (Outcome("ok", "ended", {v: Grade.ACCEPTABLE for v in variants}),)

    def actors(self, config):
        return [("pd0.a", {}), ("pd0.b", {})]

    def locks(self, config):
        return ["L"]

    def regions(self, config):
        return {"sync": 1}

    def core(self, seg, config):
        from kernel_model.genode.core import Core

        return Core(1, lambda pd: None, ram_quota=0)

    def run_actor(self, env, actor):
        variant, sync = env.config["variant"], env.words("sync")
        env.core_call(0)(0)  # a null request: core is up
        if actor.name == "pd0.a":
            if variant == "stop-idle":
                os.kill(os.getpid(), signal.SIGSTOP)
            elif variant == "stop-core":
                me = psutil.Process()
                core = min(
                    (p for p in me.parent().children() if p.pid != me.pid),
                    key=lambda p: p.create_time(),
                )
                core.send_signal(signal.SIGSTOP)
                env.core_call(0)(0)
            else:
                env.lock("L").acquire()
                env.point("hold")
                sync[0] = 1
                if variant == "stop-holder":
                    os.kill(os.getpid(), signal.SIGSTOP)
            env.record("ok")
            return
        if variant in ("stop-holder", "exit-holding"):
            while not sync[0]:
                pass
            with env.lock("L"):
                pass
        env.record("ok")

    points = ("hold",)


SCENARIO = Stuck()
