"""What ``drain-ls check`` and the editor's checks are asked to do (``CheckSettings``): a
module of its own, light to import, so that reading the settings does not load the checks
(a ``drain-ls check`` whose every file is a cache hit never runs one)."""

from __future__ import annotations

from dataclasses import dataclass, field

from drain_ls.analysis.rules import ALL_CODES
from drain_ls.analysis.targets import DEFAULT_TARGET, PythonVersion

DOCSTRING_STYLES = ("google", "numpy", "sphinx")


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """What to check and how to fix; ``target_version``: the oldest Python the code must
    parse with (syntax newer than it is a version error, ``drain_ls.analysis.versions``)."""

    select: frozenset[str] = field(default_factory=lambda: frozenset(ALL_CODES))
    docstring_style: str = "google"
    target_version: PythonVersion = DEFAULT_TARGET

    @property
    def defers_annotations(self) -> bool:
        """Whether every annotation is evaluated late (PEP 649, from Python 3.14): ruff then
        resolves them once the module is complete, as under ``from __future__ import
        annotations``."""
        return self.target_version >= PythonVersion.PY314
