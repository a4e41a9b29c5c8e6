"""Native actors (issue 21): actor bodies in C, compiled with the system compiler
(`build.py`) and called in the actor's process with testbed.h's `tb_env` (`bridge.py`)."""
