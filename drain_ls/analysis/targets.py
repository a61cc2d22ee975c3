"""Target versions (``PythonVersion``, ruff's names ``py37`` ... ``py314``) and how a setting
or a ``requires-python`` specifier names one: light to import (no tree-sitter), for the
settings; the version errors themselves are ``drain_ls.analysis.versions``'."""

from __future__ import annotations

import re
from enum import IntEnum


class PythonVersion(IntEnum):
    """A target version, ordered; the value is the minor version of Python 3."""

    PY37 = 7
    PY38 = 8
    PY39 = 9
    PY310 = 10
    PY311 = 11
    PY312 = 12
    PY313 = 13
    PY314 = 14

    @property
    def setting(self) -> str:
        """The name in settings: ``py39``."""
        return f"py3{self.value}"

    def __str__(self) -> str:
        """The version as Python writes it: ``3.9``."""
        return f"3.{self.value}"


DEFAULT_TARGET = PythonVersion.PY314
TARGET_NAMES = tuple(v.setting for v in PythonVersion)


def parse_target_version(value: str) -> PythonVersion:
    """``py38`` ... ``py314`` (ruff's names; ``3.12`` is accepted too) as a version.

    Raises ``ValueError`` with the accepted names for anything else."""
    text = value.strip().lower()
    if text.startswith("3."):
        text = "py3" + text[2:]
    for version in PythonVersion:
        if version.setting == text:
            return version
    raise ValueError(f"unknown target-version {value!r}; expected one of {', '.join(TARGET_NAMES)}")


_SPECIFIER = re.compile(r"\s*(~=|===|==|>=|>|!=|<=|<)\s*(\d+)(?:\.(\d+|\*))?(?:\.(?:\d+|\*))*\s*")


def target_from_requires_python(spec: str) -> PythonVersion | None:
    """The lowest version a ``requires-python`` specifier allows (ruff infers the target so
    when none is set): ``>=3.10``, ``~=3.10.2``, ``==3.10.*`` and ``>3.10`` give py310. None
    when the specifier has no lower bound on Python 3 or one below py37; a version newer
    than py314 gives py314."""
    lowest: int | None = None
    for part in spec.split(","):
        if not part.strip():
            continue
        match = _SPECIFIER.fullmatch(part)
        if match is None:
            return None
        operator, major, minor = match.groups()
        if operator in ("<", "<=", "!="):
            continue
        if major != "3" or minor in (None, "*"):
            return None
        lowest = int(minor) if lowest is None else max(lowest, int(minor))
    if lowest is None or lowest < PythonVersion.PY37:
        return None
    return PythonVersion(min(lowest, PythonVersion.PY314))


def resolve_target(value: str | None, requires_python: str | None = None) -> PythonVersion:
    """The target in force: ``value`` (a ``target-version`` setting) when set (not None nor
    empty), else the lower bound of a ``requires-python`` specifier (as ruff infers it), else
    the newest. Raises ``ValueError`` for a ``value`` that names no version."""
    if value:
        return parse_target_version(value)
    if requires_python is not None:
        inferred = target_from_requires_python(requires_python)
        if inferred is not None:
            return inferred
    return DEFAULT_TARGET
