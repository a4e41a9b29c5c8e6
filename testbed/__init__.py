"""The testbed's machinery: shared memory, semaphores, core and actor processes, the CLI."""

__version__ = "0.1.0"
