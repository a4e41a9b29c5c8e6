"""Builds the C libraries, loaded with ctypes, not imported: the testbed's (bitmaps, atomics,
the mailbox handshake; hooks.c: builtins for the hot paths, made through ctypes) and the
Genode model's core in C (kernel_model/genode/fastcore.py)."""

from setuptools import Extension, find_packages, setup

# scenarios/ and bench/ stay at the top of the repository and install under the tool's own
# name, testbed.scenarios and testbed.bench: a user's own `scenarios` or `bench` package (in
# their working directory) never collides with the tool's
PACKAGES = find_packages(include=["testbed", "testbed.*", "kernel_model", "kernel_model.*"])

setup(
    packages=[*PACKAGES, "testbed.scenarios", "testbed.bench"],
    package_dir={"testbed.scenarios": "scenarios", "testbed.bench": "bench"},
    ext_modules=[
        Extension(
            "testbed.ipc._native",
            sources=["testbed/ipc/native.c", "testbed/ipc/hooks.c"],
            extra_compile_args=["-O2", "-std=c11"],
            extra_link_args=["-pthread"],
            py_limited_api=False,
        ),
        Extension(
            "kernel_model.genode._fastcore",
            sources=["kernel_model/genode/_fastcore.c"],
            extra_compile_args=["-O2", "-std=c11"],
            py_limited_api=False,
        ),
    ]
)
