"""Builds the C libraries, loaded with ctypes, not imported: the testbed's (bitmaps, atomics,
the mailbox handshake; hooks.c: builtins for the hot paths, made through ctypes) and the
Genode model's core in C (kernel_model/genode/fastcore.py)."""

from setuptools import Extension, setup

setup(
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
