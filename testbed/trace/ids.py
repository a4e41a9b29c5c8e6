"""Event ids of a recording: schedule points are their index in the run's point list (below
CORE_EVENT); core's requests and outcomes have ids of their own above them."""

CORE_EVENT = 0x4000  # + op: a request core served; `what` packs client, status, key
MAX_CORE_OP = 0xFF  # ops recorded as themselves; any op from here on is recorded as this one
OUTCOME_EVENT = 0x8000  # + outcome index: an actor recorded an outcome
