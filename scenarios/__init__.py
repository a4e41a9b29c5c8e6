"""The experiments: one module a scenario, each declaring one `SCENARIO`."""
