"""Systematic exploration of a scenario's schedules on real processes (`testbed explore`):
the search, the reduction, and the driver that reuses the processes across schedules."""

from testbed.explorer.run import EXIT_INCOMPLETE, ExploreOptions, Progress, explore

__all__ = ["EXIT_INCOMPLETE", "ExploreOptions", "Progress", "explore"]
