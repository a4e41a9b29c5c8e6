"""Actors that wait for each other through shared words, as users write them: `ping` sets a
flag and spins until `pong` answers; `pong` spins until the flag is set, then answers. The
waits pass no named point, so at named level a replay cannot force them (a waiting actor
never parks); at --points access every read of the flag is a point. Each round trip is
recorded as the INTERESTING outcome `answered`, so every run writes a trace."""

from testbed import Grade, Outcome, Scenario


class Handshake(Scenario):
    name = "handshake"
    variants = {"spin": "each waits for the other's word"}
    outcomes = (Outcome("answered", "a round trip through shared words",
                        {"spin": Grade.INTERESTING}),)  # fmt: skip
    points = ("send", "reply")
    iterate = True
    quiet_actors = ("pong",)  # ping records each round trip

    def actors(self, config):
        return [("ping", {}), ("pong", {})]

    def regions(self, config):
        return {"flags": 2}

    def run_actor(self, env, actor):
        flags = env.words("flags")
        if actor.name == "ping":
            env.point("send")
            flags[0] = 1
            while flags[1] == 0:
                pass
            env.record("answered")
        else:
            while flags[0] == 0:
                pass
            env.point("reply")
            flags[1] = 1


SCENARIO = Handshake()
