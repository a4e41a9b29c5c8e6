"""Campaigns: a matrix of seeded stress runs (variant x strategy x pin x trials) sent to Dask
distributed, with retries of runs that failed to start or lost their worker, and aggregates."""
