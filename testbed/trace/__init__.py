"""An interleaving as a value: recording it, capturing it to a trace, forcing it again."""

from testbed.trace.trace import Event, Trace, TraceError

__all__ = ["Event", "Trace", "TraceError"]
