"""Builds the C libraries, loaded with ctypes, not imported: the testbed's (bitmaps, atomics,
the mailbox handshake, page tables, recording, the iteration gate, the step handoff; hooks.c: builtins for the
hot paths, made through ctypes) and the Genode model's core in C
(kernel_model/genode/fastcore.py). testbed/ipc/tb.h is the header they share."""

from setuptools import Extension, find_packages, setup

# scenarios/ and bench/ stay at the top of the repository and install under the tool's own
# name, testbed.scenarios and testbed.bench: a user's own `scenarios` or `bench` package (in
# their working directory) never collides with the tool's
PACKAGES = find_packages(include=["testbed", "testbed.*", "kernel_model", "kernel_model.*"])

# The Makefile's $(STAMP) rule lists these files too: keep the two in step.
NATIVE = [
    f"testbed/ipc/{name}.c"
    for name in ("bitmap", "atomics", "mailbox", "pagetable", "recorder", "gate", "handoff", "hooks",
                 "access_hooks")
]
HEADER = "testbed/ipc/tb.h"

setup(
    packages=[*PACKAGES, "testbed.scenarios", "testbed.scenarios.sctbench", "testbed.bench"],
    package_dir={"testbed.scenarios": "scenarios", "testbed.bench": "bench"},
    ext_modules=[
        Extension(
            "testbed.ipc._native",
            sources=NATIVE,
            depends=[HEADER],
            extra_compile_args=["-O2", "-std=c11"],
            extra_link_args=["-pthread"],
            py_limited_api=False,
        ),
        Extension(
            "kernel_model.genode._fastcore",
            sources=["kernel_model/genode/_fastcore.c"],
            depends=[HEADER],
            include_dirs=["testbed/ipc"],
            extra_compile_args=["-O2", "-std=c11"],
            py_limited_api=False,
        ),
    ]
)
