"""Who runs: validation, the runner and its supervision, the actor and core processes,
perturbation, replay and minimization."""
