"""Snapshot tests: one fixture file per edge case, with the findings it must produce.

The ``.expected`` files were generated from ruff (``tests/fixtures/regen_expected.py``) and
reviewed; each fixture's top comment says what it pins.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.imports import import_bindings_by_name, unused_bindings_of
from drain_ls.analysis.source import LineIndex, parse

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


# Sources where occurrences next to a dot ("os.path", "x.os") decide the answer: the check
# resolves them last and stops at the first use; the incremental checker's path (witnesses)
# resolves every occurrence in order. Both must agree.
DOTTED_CASES = [
    'import os\n"""os.path in a docstring"""\n# os.path in a comment\n',
    "import os\ndef f():\n    os = 1\n    return os.path\n",
    "import os\nclass C:\n    os = 1\n    y = os.path\n",
    "import os\nos.x = 1\n",
    "import os\ndel os\nimport os\nprint(os.sep)\n",
    "import os\nmatch v:\n    case os.sep:\n        pass\n",
    "import a.b\nimport a.c as c\nprint(a.b.x, c.d)\n",
    "import os\nx.os.path\nfrom .os import y\n",
    "import os\ndef f(os):\n    return os.path\nimport os\n",
    "def f():\n    import os\n    return os.path\nimport os\n",
    "import os\ndef f():\n    global os\n    os = None\n    return os.sep\n",
    "import typing\nx: 'typing.List[int]' = []\n",
    "try:\n    import os\nexcept ImportError:\n    os = None\nprint(os.sep)\n",
]


def _f401_sources() -> list[tuple[str, bytes]]:
    files = sorted((ROOT / "f401").rglob("*.py"))
    return [(str(p.relative_to(ROOT)), p.read_bytes()) for p in files] + [
        (f"dotted{i}", s.encode()) for i, s in enumerate(DOTTED_CASES)
    ]


F401_SOURCES = _f401_sources()


@pytest.mark.parametrize("source", [s for _, s in F401_SOURCES], ids=[n for n, _ in F401_SOURCES])
def test_dotted_occurrences_resolved_last_change_nothing(source: bytes) -> None:
    root = parse(source).root_node
    by_name = import_bindings_by_name(root, source)
    fast = unused_bindings_of(root, source, by_name)
    full = unused_bindings_of(root, source, by_name, witnesses={})
    assert {n: [b.node.start_byte for b in bs] for n, bs in fast.items()} == {
        n: [b.node.start_byte for b in bs] for n, bs in full.items()
    }
