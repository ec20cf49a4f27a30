"""
Only the optional C speedups live here; everything else is in pyproject.toml.

The extension is optional: without a C compiler (or Python's headers) the
build goes on and ratchet_tx uses its pure-Python code instead.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "ratchet_tx.websocket.codecs._speedups",
            ["ratchet_tx/websocket/codecs/_speedups.c"],
            optional=True,
        )
    ]
)
