"""Builds the testbed's C library (bitmaps and atomics), loaded with ctypes, not imported."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "testbed.ipc._native",
            sources=["testbed/ipc/native.c"],
            extra_compile_args=["-O2", "-std=c11"],
            extra_link_args=["-pthread"],
            py_limited_api=False,
        )
    ]
)
