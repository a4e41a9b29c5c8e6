"""Systematic exploration of a scenario's schedules on real processes (`testbed explore`):
the search (which step next), the reduction (which schedules repeat others), the run."""

from testbed.explorer.run import EXIT_INCOMPLETE, ExploreOptions, Progress, explore

__all__ = ["EXIT_INCOMPLETE", "ExploreOptions", "Progress", "explore"]
