"""Snapshot tests: one fixture file per edge case, with the findings it must produce.

The ``.expected`` files were generated from ruff (``tests/fixtures/regen_expected.py``) and
reviewed; each fixture's top comment says what it pins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.source import LineIndex

ROOT = Path(__file__).parent / "fixtures"
FAMILIES = {
    "f401": frozenset({"F401", "E999"}),
    "docstrings": frozenset({f"D10{i}" for i in range(8)}),
}
CASES = sorted(
    path
    for family in FAMILIES
    for path in (ROOT / family).rglob("*.py")
    if path.with_suffix(".expected").exists()
)


def render(path: Path, codes: frozenset[str]) -> list[str]:
    source = path.read_bytes()
    index = LineIndex(source)
    lines = []
    for finding in check_source(source, str(path), CheckSettings(select=codes)):
        row, column = index.char_position(finding.start)
        lines.append(f"{row + 1}:{column + 1} {finding.code} {finding.message}")
    return lines


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(ROOT)) for p in CASES])
def test_fixture_matches_its_snapshot(path: Path) -> None:
    family = path.relative_to(ROOT).parts[0]
    expected = path.with_suffix(".expected").read_text().splitlines()
    assert render(path, FAMILIES[family]) == expected


def test_every_family_has_fixtures() -> None:
    for family in FAMILIES:
        assert any(p.relative_to(ROOT).parts[0] == family for p in CASES), family
