"""``drain_ls._native`` (the byte scans of the checks, in C) if it was built, else None.

It is built when ``pip install`` finds a C compiler (``setup.py``); without it, every module
that uses it runs the same rule in Python (``tests/test_native.py`` holds both to the same
answers)."""

from __future__ import annotations

from types import ModuleType

NATIVE: ModuleType | None
try:
    from drain_ls import _native as NATIVE
except ImportError:  # not built: no C compiler when drain-ls was installed
    NATIVE = None
