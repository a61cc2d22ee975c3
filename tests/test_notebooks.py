"""Jupyter notebooks through ``drain-ls check``: read as ruff reads them, fixed in place.

The notebooks in ``fixtures/notebooks`` are checked by drain-ls and by ruff (the one in the
virtual environment): the same findings, in the same cells, rows and columns; and ``--fix``
leaves the same cells as ruff's, with every byte outside the fixed cells' sources unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from drain_ls.analysis.notebook import (
    NotebookError,
    check_notebook,
    escape_ranges,
    is_magic_cell,
    read_notebook,
)

FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"
NOTEBOOKS = sorted(p.name for p in FIXTURES.glob("*.ipynb"))
RUFF = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
needs_ruff = pytest.mark.skipif(RUFF is None, reason="ruff is not installed")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert RUFF is not None
    return subprocess.run(
        [RUFF, "check", "--isolated", "--no-cache", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def notebook(
    cells: list[str | tuple[str, str]],
    metadata: dict[str, Any] | None = None,
    as_string: bool = False,
) -> dict[str, Any]:
    """A notebook of ``cells`` (a string is a code cell; ``(kind, text)`` any cell)."""
    made = []
    for number, cell in enumerate(cells):
        kind, text = cell if isinstance(cell, tuple) else ("code", cell)
        source: str | list[str] = text if as_string else text.splitlines(keepends=True)
        entry: dict[str, Any] = {"cell_type": kind, "id": f"c{number}", "metadata": {}}
        if kind == "code":
            entry |= {"execution_count": None, "outputs": []}
        made.append(entry | {"source": source})
    if metadata is None:
        metadata = {"language_info": {"name": "python"}}
    return {"cells": made, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def write(path: Path, value: dict[str, Any], **dumps: Any) -> bytes:
    data = (json.dumps(value, **({"indent": 1} | dumps)) + "\n").encode()
    path.write_bytes(data)
    return data


def sources(path: Path) -> list[str]:
    return [
        c["source"] if isinstance(c["source"], str) else "".join(c["source"])
        for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
    ]


# --- The command line ----------------------------------------------------------------


def test_a_notebook_is_checked_per_cell_as_ruff_reports_it(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "nb.ipynb", tmp_path)
    result = run("check", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines()[:5] == [
        "nb.ipynb:cell 2:1:8: F401 [*] `os` imported but unused",
        "nb.ipynb:cell 2:2:8: F401 [*] `sys` imported but unused",
        "nb.ipynb:cell 3:1:8: F401 [*] `json` imported but unused",
        "nb.ipynb:cell 5:2:8: F401 [*] `collections` imported but unused",
        "nb.ipynb:cell 6:1:5: D103 [*] Missing docstring in public function",
    ]
    assert "D100" not in result.stdout  # a notebook is never asked for a module docstring
    assert "notpython" not in result.stdout  # a %%bash cell is not Python


def test_json_output_has_the_cell_and_cell_relative_rows(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "nb.ipynb", tmp_path)
    rows = json.loads(run("check", "--format", "json", "nb.ipynb", cwd=tmp_path).stdout)
    collections = next(r for r in rows if "collections" in r["message"])
    assert collections["cell"] == 5
    assert collections["location"] == {"row": 2, "column": 8}
    assert collections["end_location"] == {"row": 2, "column": 19}
    assert collections["noqa_row"] == 2
    assert collections["fix"]["edits"] == [
        {
            "content": "",
            "location": {"row": 2, "column": 1},
            "end_location": {"row": 3, "column": 1},
        }
    ]
    plain = tmp_path / "plain.py"
    plain.write_text('"""Doc."""\nimport os\n')
    rows = json.loads(run("check", "--format", "json", "plain.py", cwd=tmp_path).stdout)
    assert rows[0]["cell"] is None


def test_directory_walks_include_notebooks_as_ruff_does(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    shutil.copy(FIXTURES / "nb.ipynb", tmp_path / "sub")
    (tmp_path / ".ipynb_checkpoints").mkdir()  # Jupyter's copies: excluded, as in ruff
    shutil.copy(FIXTURES / "nb.ipynb", tmp_path / ".ipynb_checkpoints" / "nb-checkpoint.ipynb")
    result = run("check", "--select", "F401", ".", cwd=tmp_path)
    assert "sub/nb.ipynb:cell 2:1:8: F401" in result.stdout
    assert "checkpoint" not in result.stdout


def test_a_notebook_of_another_language_is_skipped(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "r_kernel.ipynb", tmp_path)
    result = run("check", "r_kernel.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == "All checks passed (1 file).\n"


def test_invalid_json_is_one_line_and_the_run_goes_on(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "broken.ipynb", tmp_path)
    (tmp_path / "mod.py").write_text('"""Doc."""\nimport os\n')
    result = run("check", "--select", "F401", ".", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "broken.ipynb:1:1: E999 Expected a Jupyter Notebook, which must be internally stored "
        "as JSON, but this file isn't valid JSON: Expecting value: line 1 column 12 (char 11)"
    )
    assert lines[1] == "mod.py:2:8: F401 [*] `os` imported but unused"
    before = (tmp_path / "broken.ipynb").read_bytes()
    run("check", "--fix", ".", cwd=tmp_path)
    assert (tmp_path / "broken.ipynb").read_bytes() == before


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"cells": [], "metadata": {}, "nbformat": 4}, "missing field `nbformat_minor`"),
        ({"cells": [], "metadata": {}, "nbformat": 3, "nbformat_minor": 0}, "format 4, found: 3"),
        ([1], "the top level is not an object"),
        (
            {"cells": [{"cell_type": "code", "source": "x", "metadata": {}}], "metadata": {}}
            | {"nbformat": 4, "nbformat_minor": 5},
            "cell 1: missing field `outputs`",
        ),
    ],
)
def test_a_file_that_is_not_a_notebook_is_refused(value: Any, message: str) -> None:
    with pytest.raises(NotebookError, match=message):
        read_notebook(json.dumps(value).encode())


def test_fix_changes_only_the_fixed_cells_byte_for_byte(tmp_path: Path) -> None:
    for name in ("nb.ipynb", "nb_compact.ipynb"):
        path = tmp_path / name
        shutil.copy(FIXTURES / name, path)
        before = path.read_bytes()
        result = run("check", "--fix", "--select", "F401", name, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        after = path.read_bytes()
        assert sources(path) == [
            "# Title\nimport nothing\n",
            "%matplotlib inline\n!pip install x\nfiles = !ls\nos?\nx = %time 1\n",
            "import re\nprint(re)",
            "%%bash\nimport notpython\n",
            "%%time\n",
            "def f():\n    pass\n",
            "import raw\n",
        ]
        # Only the sources of cells 2, 3 and 5 changed: the rest is the same bytes.
        assert _without_sources(after, [1, 2, 4]) == _without_sources(before, [1, 2, 4])
        if name == "nb.ipynb":
            expected = before.replace(b'    "import os\\n",\n    "import sys\\n",\n', b"")
            expected = expected.replace(b'"import json\\nimport re', b'"import re')
            expected = expected.replace(
                b'"%%time\\n",\n    "import collections\\n"', b'"%%time\\n"'
            )
            assert after == expected
            assert b'"source": "import re\\nprint(re)"' in after  # a string stays a string
        else:
            assert b'"source":["%matplotlib inline\\n","!pip' in after  # still compact


def _without_sources(data: bytes, cells: list[int]) -> bytes:
    """The file with the source values of ``cells`` cut out (the rest must be identical)."""
    from drain_ls.analysis.notebook_write import _source_spans

    text = data.decode()
    spans = _source_spans(text)
    out, position = [], 0
    for cell in cells:
        start, end = spans[cell]
        out.append(text[position:start])
        position = end
    out.append(text[position:])
    return "\x00".join(out).encode()


@pytest.mark.parametrize(
    "dumps",
    [
        {"indent": 1},
        {"indent": 2, "ensure_ascii": False},
        {"indent": 4, "ensure_ascii": True},
        {"indent": None, "separators": (",", ":")},
        {"indent": None},
        {"indent": "\t"},
    ],
)
@pytest.mark.parametrize("as_string", [False, True])
def test_fix_keeps_every_layout(tmp_path: Path, dumps: dict[str, Any], as_string: bool) -> None:
    value = notebook(
        [
            ("markdown", "# Ünïcode\n"),
            "import os",
            "x = 'é'\nimport sys\nprint(x)\n",
            "def f():\n    return 1",
            "import json\nprint(json)",
        ],
        metadata={"language_info": {"name": "python"}, "kernelspec": {"language": "python"}},
        as_string=as_string,
    )
    path = tmp_path / "nb.ipynb"
    before = write(path, value, **dumps)
    crlf = tmp_path / "crlf.ipynb"
    crlf.write_bytes(before.replace(b"\n", b"\r\n"))
    for target in (path, crlf):
        original = target.read_bytes()
        result = run("check", "--fix", "--select", "F401", target.name, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
        after = target.read_bytes()
        assert sources(target) == [
            "# Ünïcode\n",
            "",
            "x = 'é'\nprint(x)\n",
            "def f():\n    return 1",
            "import json\nprint(json)",
        ]
        assert _without_sources(after, [1, 2]) == _without_sources(original, [1, 2])
        if not as_string:
            # Untouched lines keep their exact text (escapes included) and the layout.
            expected = original.replace(b'"import sys\\n",', b"").replace(b'"import os"', b"")
            assert _squeeze(after) == _squeeze(expected)


def _squeeze(data: bytes) -> bytes:
    return b"".join(data.split())


def test_fix_writes_what_ruff_writes_in_the_cells(tmp_path: Path) -> None:
    if RUFF is None:
        pytest.skip("ruff is not installed")
    for name in NOTEBOOKS:
        ours, theirs = tmp_path / "ours" / name, tmp_path / "theirs" / name
        for copy in (ours, theirs):
            copy.parent.mkdir(exist_ok=True)
            shutil.copy(FIXTURES / name, copy)
        run("check", "--fix", "--select", "F401", str(ours), cwd=tmp_path)
        ruff("--fix", "--select", "F401", str(theirs), cwd=tmp_path)
        if name == "broken.ipynb":
            assert ours.read_bytes() == theirs.read_bytes() == (FIXTURES / name).read_bytes()
            continue
        assert sources(ours) == sources(theirs), name


def _ours(path: Path) -> list[tuple[object, ...]]:
    rows = json.loads(
        run("check", "--select", "F401,D1", "--format", "json", path.name, cwd=path.parent).stdout
    )
    return sorted((r["cell"], r["code"], *_span(r)) for r in rows)


def _theirs(path: Path) -> list[tuple[object, ...]]:
    output = ruff("--select", "F401,D1", "--output-format", "json", path.name, cwd=path.parent)
    rows = json.loads(output.stdout)
    return sorted(
        (r["cell"], _code(r["code"]), *_span(r))
        for r in rows
        if r["code"] not in (None, "invalid-syntax") or "Jupyter" in r["message"]
    )


def _point(location: dict[str, int]) -> tuple[int, int]:
    return location["row"], location["column"]


def _span(row: dict[str, Any]) -> tuple[object, ...]:
    start, end = row["location"], row["end_location"]
    edits = tuple(
        (e["content"], *_point(e["location"]), *_point(e["end_location"]))
        for e in (row["fix"] or {}).get("edits", ())
    )
    return start["row"], start["column"], end["row"], end["column"], edits


def _code(code: str | None) -> str:
    return "E999" if code in (None, "invalid-syntax") else str(code)


@needs_ruff
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_findings_match_ruff(name: str, tmp_path: Path) -> None:
    shutil.copy(FIXTURES / name, tmp_path)
    ours, theirs = _ours(tmp_path / name), _theirs(tmp_path / name)
    if name == "broken.ipynb":  # ruff's end of the JSON error is not 1:1; the start is
        assert [r[:4] for r in ours] == [r[:4] for r in theirs] == [(None, "E999", 1, 1)]
        return
    assert ours == theirs
    assert ours or name == "r_kernel.ipynb"


@needs_ruff
def test_generated_notebooks_match_ruff(tmp_path: Path) -> None:
    cases = {
        "vscode.ipynb": notebook(["import os"])
        | {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {"vscode": {"languageId": language}},
                    "outputs": [],
                    "source": [f"import {module}\n"],
                }
                for language, module in (("python", "os"), ("javascript", "sys"))
            ]
        },
        "no_language.ipynb": notebook(["import os"], metadata={"kernelspec": {"name": "x"}}),
        "only_info.ipynb": notebook(["import os"], metadata={}),
        "empty.ipynb": notebook([]),
        "magic_only.ipynb": notebook(["%%bash\nls"]),
        "lines_as_pieces.ipynb": notebook(["import os"])
        | {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": ["imp", "ort os\nimport s", "ys\n", "sys.exit()"],
                }
            ]
        },
    }
    for name, value in cases.items():
        write(tmp_path / name, value)
        assert _ours(tmp_path / name) == _theirs(tmp_path / name), name


# --- Reading: cells, magics, escapes ----------------------------------------------------


def test_ipython_escapes_are_found_as_ruffs_lexer_finds_them() -> None:
    source = (
        b"%matplotlib inline\n"
        b"!pip install x\n"
        b"files = !ls\n"
        b"x = %time f(a, b)\n"
        b"os.path?\n"
        b"??os\n"
        b"if True:\n    %time json\n"
        b"s = '''\n%not an escape\n'''\n"
        b"y = (1,\n     2)\n"
        b"%long \\\n  continued\n"
        b"a = b % c\n"
        b"d == !e\n"
        b"f(x=%y)\n"
    )
    found = [source[s:e] for s, e in escape_ranges(source)]
    assert found == [
        b"%matplotlib inline",
        b"!pip install x",
        b"!ls",
        b"%time f(a, b)",
        b"os.path?",
        b"??os",
        b"%time json",
        b"%long \\\n  continued",
    ]


def test_escapes_do_not_use_names_and_keep_offsets() -> None:
    value = notebook(["import os\nimport sys\nos?\n!echo {sys}\nx = %time os.getcwd()"])
    nb = read_notebook(json.dumps(value).encode())
    check = check_notebook(nb, "nb.ipynb")
    assert sorted(f.message for f in check.findings) == [
        "`os` imported but unused",
        "`sys` imported but unused",
    ]
    assert [check.cells.position(f.start) for f in check.findings] == [(1, 0, 7), (1, 1, 7)]


@pytest.mark.parametrize(
    ("lines", "magic"),
    [
        (["%%bash\n", "ls\n"], True),
        (["%%time\n", "x = 1\n"], False),
        (["x = 1\n", "%%timeit\n"], False),
        (["x = 1\n", "%%writefile a.py\n"], True),
        (["cd /tmp\n"], True),
        (["cd = 1\n"], False),
        (["pip install x\n"], True),
        (["x = 1\n", "pip install x\n"], False),
        (["%%\n"], True),
    ],
)
def test_cell_magics_as_ruff(lines: list[str], magic: bool) -> None:
    assert is_magic_cell(lines) is magic


def test_a_fix_never_edits_an_escape_or_merges_cells(tmp_path: Path) -> None:
    value = notebook(["import os\n%time 1", "import sys", "print(1)\nimport re", "x = 1"])
    path = tmp_path / "nb.ipynb"
    write(path, value)
    result = run("check", "--fix", "--select", "F401", "nb.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sources(path) == ["%time 1", "", "print(1)", "x = 1"]


def test_a_fix_that_would_change_which_cells_are_python_is_not_made(tmp_path: Path) -> None:
    # Without its import, the cell would start with `time`, an automagic: read again, the
    # notebook would have another set of Python cells (ruff writes it anyway).
    value = notebook(["import os\ntime", "import sys\nprint(1)"])
    path = tmp_path / "nb.ipynb"
    write(path, value)
    result = run("check", "--fix", "nb.ipynb", cwd=tmp_path)
    assert sources(path) == ["import os\ntime", "print(1)"]  # the other fix is made
    assert result.returncode == 1
    assert "nb.ipynb:cell 1:1:8: F401 [*] `os` imported but unused" in result.stdout


def test_a_notebook_that_would_not_read_back_the_same_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drain_ls import cli
    from drain_ls.analysis import notebook as module

    path = tmp_path / "nb.ipynb"
    before = write(path, notebook(["import os\ntime", "print(1)"]))
    # As if the fix loop had missed that the first cell becomes an automagic one.
    monkeypatch.setattr(module, "_same_cells", lambda notebook, texts: True)
    result = cli.check_file(str(path), cli.CheckSettings(), fix=True, unsafe=False)
    assert path.read_bytes() == before
    assert result.error == (
        "cannot write the fixes: the fixes would change which cells are Python, not written"
    )
    assert [row["cell"] for row in result.rows] == [1]  # the findings are still shown
    assert not [p for p in tmp_path.iterdir() if p.name != "nb.ipynb"]  # no temporary left


def test_the_old_data_loss_a_docstring_in_front_of_the_json(tmp_path: Path) -> None:
    path = tmp_path / "analysis.ipynb"
    write(path, notebook(["def f():\n    return 1"]))
    result = run("check", "--fix", "analysis.ipynb", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    nb = json.loads(path.read_text())  # still a notebook
    assert "".join(nb["cells"][0]["source"]).startswith('def f():\n    """TODO: Summarize `f`.')
