"""The offline parts of benchmarks/check_corpus.py: how findings are matched with ruff's,
counted per family, and how disagreements are put in categories (no download, no tools)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent.parent / "benchmarks"))
import check_corpus as cc


def row(path: Path, code: str | None, line: int, message: str) -> dict[str, object]:
    return {
        "cell": None,
        "code": code,
        "filename": str(path),
        "location": {"row": line, "column": 1},
        "message": message,
    }


@pytest.fixture
def group(tmp_path: Path) -> cc.Group:
    (tmp_path / "a.py").write_text("import os\nimport sys\n")
    (tmp_path / "b.py").write_text("print 'x'\n")
    return cc.Group("packages", tmp_path, [str(tmp_path / "a.py")], "pkgs")


def side(group: cc.Group, rows: list[dict[str, object]], stderr: str = "") -> cc.Side:
    run = cc.Run(0.0, [json.dumps(rows)], stderr)
    return cc.read_side(run, group, "ruff" if "Failed" in stderr else "drain-ls")


def test_matching_per_family_and_name(group: cc.Group) -> None:
    a, b = group.root / "a.py", group.root / "b.py"
    drain = side(
        group,
        [
            row(a, "F401", 1, "`os` imported but unused"),
            row(a, "F401", 2, "`sys` imported but unused"),
            row(a, "D100", 1, "Missing docstring in public module"),
            row(b, "E999", 1, "SyntaxError: invalid syntax"),
        ],
    )
    ruff = side(
        group,
        [
            row(a, "F401", 1, "`os` imported but unused"),
            row(a, "F401", 2, "`json` imported but unused"),  # same row, another name
            row(b, "invalid-syntax", 1, "Simple statements must be separated"),
            row(b, "invalid-syntax", 2, "Expected an expression"),  # one file, two errors
        ],
    )
    tallies, diffs = cc.compare(drain, ruff)
    assert (tallies["F401"].ruff, tallies["F401"].drain, tallies["F401"].both) == (2, 2, 1)
    assert (tallies["D100"].ruff, tallies["D100"].drain, tallies["D100"].both) == (0, 1, 0)
    assert (tallies["syntax"].ruff, tallies["syntax"].drain, tallies["syntax"].both) == (1, 1, 1)
    assert tallies["F401"].precision == tallies["F401"].recall == 0.5
    assert tallies["D101"].precision == tallies["D101"].recall == 1.0  # nothing on either side
    sides = sorted((s, k.family, k.detail) for s, k, _ in diffs)
    assert sides == [
        ("drain-ls only", "D100", ""),
        ("drain-ls only", "F401", "sys"),
        ("ruff only", "F401", "json"),
    ]


def test_unreadable_files_from_stderr(group: cc.Group) -> None:
    ruff = side(group, [], "warning: Failed to lint c.py: stream did not contain valid UTF-8\n")
    drain = side(group, [], "error: c.py: not valid UTF-8 (byte 0xff at line 1), skipped\n")
    assert list(ruff.unreadable) == list(drain.unreadable) == ["pkgs/c.py"]


def test_batches_keep_command_lines_short(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cc, "MAX_ARG_BYTES", 10)
    assert cc.batches(["aaaa", "bbbb", "cccc"]) == [["aaaa", "bbbb"], ["cccc"]]
    assert cc.batches([]) == [[]]


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("from x import A\ny = cast('A', z)\n", "cast()"),
        ("from x import A\nT = TypeVar('T', bound='A | None')\n", "TypeVar()"),
        ("from x import A\ny = Union['A', None]\n", "subscript of Union[...]"),
        ("from x import A\nB: TypeAlias = 'list[A]'\n", "TypeAlias value"),
        ("from x import A\n__all__ = list({'A'})\n", "__all__"),
        ("from x import A\nraise E('A failed')\n", "argument of E()"),
        ("from x import A\n'A'\n", "docstring or bare string"),
    ],
)
def test_string_contexts(source: str, context: str) -> None:
    assert cc._string_uses(source, {"A"})[0] == context


def test_categories(group: cc.Group) -> None:
    root = group.root
    (root / "n.py").write_text("import os  # noqa: reexported\n")
    (root / "t.py").write_text("from m import A\nx = cast('A', y)\n")
    (root / "s.pyi").write_text("import os\n")
    reader = cc.Reader({"packages": group})
    empty = cc.Side()

    def category(side: str, path: str, code: str = "F401", name: str = "os") -> str:
        key = cc.Key(f"pkgs/{path}", None, code, 1, name if code == "F401" else "")
        return cc.categorise(side, key, "", empty, empty, reader)

    assert "noqa" in category("ruff only", "n.py")
    assert category("drain-ls only", "t.py", name="m.A").endswith("string: cast()")
    assert category("ruff only", "s.pyi") == "F401 in a stub (ruff only)"
