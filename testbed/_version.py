"""The testbed's version, in a module of its own: trace files record it, and what reads
it must not import the package's public API (which imports everything)."""

__version__ = "0.3.0"
