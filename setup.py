"""The optional C module of drain-ls (everything else is in pyproject.toml).

``drain_ls._native`` runs the byte scans of the syntax checks several times faster than
their Python version in ``drain_ls.analysis.indentation``. It is optional: without a C
compiler the build goes on without it, and drain-ls uses the Python version, which gives the
same answers (``tests/test_native.py``)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "drain_ls._native",
            sources=["drain_ls/_native.c"],
            optional=True,
        )
    ]
)
