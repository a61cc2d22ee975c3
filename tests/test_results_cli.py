"""``drain-ls run --diff/--apply`` and ``drain-ls show``: the real CLI on real projects,
offline and against the fake Anthropic API."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from drain_ls import cli
from drain_ls.backends.base import DrainRequest, DrainResponse, Progress
from drain_ls.backends.offline import OfflineBackend
from drain_ls.budget import Usage, cost_usd, price_of
from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import fake_api_env

API_KEY = "sk-ant-test-results-0123456789"
MODEL = "claude-haiku-4-5"

OFFLINE = '[tool.drain-ls.llm]\nbackend = "offline"\n'

SOURCE = '''"""Arithmetic."""


def add(a, b):
    return a + b


class Box:
    """A box."""

    def get(self, key):
        return key
'''

# What the offline backend writes for them (the skeleton of ``check --fix``), inserted as the
# editor's "Insert generated docstring" inserts it: at the body's first statement, indented.
ADD_DOC = '''    """TODO: Summarize `add`.

    Args:
        a: TODO.
        b: TODO.

    Returns:
        TODO.
    """
'''
GET_DOC = '''        """TODO: Summarize `get`.

        Args:
            key: TODO.

        Returns:
            TODO.
        """
'''
APPLIED = SOURCE.replace("def add(a, b):\n", "def add(a, b):\n" + ADD_DOC).replace(
    "def get(self, key):\n", "def get(self, key):\n" + GET_DOC
)

DIFF = (
    "--- a/pkg/mod.py\n"
    "+++ b/pkg/mod.py\n"
    "@@ -2,6 +2,15 @@\n"
    " \n"
    " \n"
    " def add(a, b):\n"
    + "".join(f"+{line}\n" for line in ADD_DOC.splitlines())
    + "     return a + b\n"
    " \n"
    " \n"
    "@@ -9,4 +18,12 @@\n"
    '     """A box."""\n'
    " \n"
    "     def get(self, key):\n"
    + "".join(f"+{line}\n" for line in GET_DOC.splitlines())
    + "         return key\n"
)


def drain_ls(
    *args: str, cwd: Path, home: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """``python -m drain_ls ARGS`` (stdout as bytes: a diff is compared byte for byte)."""
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", *args],
        capture_output=True,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "DRAIN_LS_HOME": str(home), "COLUMNS": "160", **(env or {})},
        timeout=120,
    )


def project(root: Path, source: str | bytes = SOURCE, pyproject: str = OFFLINE) -> Path:
    """A project with ``pkg/mod.py``; returns that file."""
    (root / "pyproject.toml").write_text(pyproject)
    path = root / "pkg" / "mod.py"
    path.parent.mkdir()
    path.write_bytes(source.encode() if isinstance(source, str) else source)
    return path


def results_rows(home: Path) -> dict[str, dict[str, Any]]:
    """The results cache's rows by drain and model's answer, straight from the ledger file."""
    db = sqlite3.connect(home / "ledger.sqlite3")
    try:
        rows = db.execute(
            "SELECT key, drain, model, value, tokens, cost_usd, created_at FROM results"
        )
        return {
            row[0]: {
                "drain": row[1],
                "model": row[2],
                "text": json.loads(row[3])["text"],
                "tokens": row[4],
                "cost": row[5],
                "created": row[6],
            }
            for row in rows
        }
    finally:
        db.close()


def row_for(home: Path, drain: str, text_part: str) -> tuple[str, dict[str, Any]]:
    found = [
        (key, row)
        for key, row in results_rows(home).items()
        if row["drain"] == drain and text_part in row["text"]
    ]
    assert len(found) == 1, found
    return found[0]


def when(created: float, text: bool = False) -> str:
    iso = datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds")
    return iso.replace("T", " ").replace("+00:00", " UTC") if text else iso


def test_offline_run_diff_apply_and_show(tmp_path: Path) -> None:
    path = project(tmp_path)
    home = tmp_path / "home"

    diff = drain_ls("run", ".", "--diff", cwd=tmp_path, home=home)
    assert diff.returncode == 1, diff.stderr  # ruff's --diff: 1 when there is a diff
    assert diff.stdout.decode() == DIFF
    assert path.read_text() == SOURCE  # --diff writes nothing
    stderr = diff.stderr.decode()
    assert "drain-ls run: 1 file(s), offline" in stderr  # the summary, out of the diff's way
    assert stderr.rstrip().endswith(
        "Would insert 2 generated docstrings into 1 file; 0 stale results skipped "
        "(made for a definition that has changed)."
    )

    # The diff is a patch git applies, and the result is what --apply writes.
    patched = tmp_path / "patched"
    patched.mkdir()
    (patched / "pkg").mkdir()
    (patched / "pkg" / "mod.py").write_text(SOURCE)
    subprocess.run(["git", "apply", "-"], input=diff.stdout, cwd=patched, check=True)
    assert (patched / "pkg" / "mod.py").read_text() == APPLIED

    as_json = drain_ls("run", ".", "--diff", "--json", cwd=tmp_path, home=home)
    assert as_json.returncode == 1, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["model"] == "offline"
    assert report["docstrings"] == {
        "mode": "diff", "docstrings": 2, "files": ["pkg/mod.py"], "stale": 0, "errors": [],
        "diff": DIFF,
    }  # fmt: skip

    applied = drain_ls("run", "pkg", "--apply", cwd=tmp_path, home=home)
    assert applied.returncode == 0, applied.stderr
    assert path.read_bytes() == APPLIED.encode()
    assert (
        applied.stdout.decode()
        .rstrip()
        .endswith(
            "Inserted 2 generated docstrings into 1 file; 0 stale results skipped "
            "(made for a definition that has changed)."
        )
    )
    assert not list(path.parent.glob(".*.tmp"))  # the atomic write left nothing behind

    again = drain_ls("run", ".", "--diff", "--json", cwd=tmp_path, home=home)
    assert again.returncode == 0, again.stderr  # nothing left to insert
    report = json.loads(again.stdout)["docstrings"]
    assert report == {
        "mode": "diff", "docstrings": 0, "files": [], "stale": 0, "errors": [], "diff": "",
    }  # fmt: skip

    # show: the offline answers are in the results cache, with their provenance. The
    # docstring was made for `add` before it had one: stale now; the summary of its current
    # text (11 lines long) is the last run's.
    summary_text = (
        "Function `add` takes a, b, returns a value. It spans 11 lines with cyclomatic "
        "complexity 1."
    )
    _, row = row_for(home, "summaries", summary_text)
    _, doc_row = row_for(home, "docstrings", "Summarize `add`")
    assert row["model"] == "offline" and row["tokens"] == 0 and row["cost"] == 0
    shown = drain_ls("show", "pkg/mod.py:add", cwd=tmp_path, home=home)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.decode() == (
        "pkg/mod.py:4: add (function)\n"
        "  docstrings [STALE: made for an earlier text of this definition]: offline (offline), "
        f"{when(doc_row['created'], True)}, 0 tokens, $0.000000\n"
        '    """TODO: Summarize `add`.\n\n    Args:\n        a: TODO.\n        b: TODO.\n\n'
        '    Returns:\n        TODO.\n    """\n'
        "  summaries [current]: offline (offline), "
        f"{when(row['created'], True)}, 0 tokens, $0.000000\n"
        f"    {summary_text}\n"
    )

    as_json = json.loads(
        drain_ls("show", "pkg/mod.py:Box.get", "--json", cwd=tmp_path, home=home).stdout
    )
    get_doc_key, get_doc = row_for(home, "docstrings", "Summarize `get`")
    get_sum_key, get_sum = row_for(
        home, "summaries", "Function `get` takes key, returns a value. It spans 10 lines"
    )
    assert as_json == {
        "file": "pkg/mod.py",
        "definitions": [
            {
                "name": "Box.get",
                "kind": "function",
                "line": 20,
                "results": [
                    {
                        "drain": "docstrings",
                        "text": get_doc["text"],
                        "model": "offline",
                        "backend": "offline",
                        "createdAt": when(get_doc["created"]),
                        "tokens": 0,
                        "costUsd": 0.0,
                        "stale": True,
                        "dismissed": False,
                        "key": get_doc_key,
                    },
                    {
                        "drain": "summaries",
                        "text": get_sum["text"],
                        "model": "offline",
                        "backend": "offline",
                        "createdAt": when(get_sum["created"]),
                        "tokens": 0,
                        "costUsd": 0.0,
                        "stale": False,
                        "dismissed": False,
                        "key": get_sum_key,
                    },
                ],
            }
        ],
    }
    assert (
        get_doc["text"]
        == '"""TODO: Summarize `get`.\n\nArgs:\n    key: TODO.\n\nReturns:\n    TODO.\n"""'
    )

    # Without a name: every definition with results, in the file's order.
    whole = json.loads(drain_ls("show", "pkg/mod.py", "--json", cwd=tmp_path, home=home).stdout)
    assert [d["name"] for d in whole["definitions"]] == ["add", "Box", "Box.get"]


def test_a_crlf_file_stays_crlf(tmp_path: Path) -> None:
    source = SOURCE.replace("\n", "\r\n").encode()
    path = project(tmp_path, source)
    home = tmp_path / "home"

    diff = drain_ls("run", ".", "--diff", cwd=tmp_path, home=home)
    assert diff.returncode == 1, diff.stderr
    # As git shows it: the file's lines keep their CR; the diff's own lines end in LF.
    expected = "".join(
        line if line.startswith(("---", "+++", "@@")) else line.replace("\n", "\r\n")
        for line in DIFF.splitlines(keepends=True)
    )
    assert diff.stdout.decode() == expected

    applied = drain_ls("run", ".", "--apply", cwd=tmp_path, home=home)
    assert applied.returncode == 0, applied.stderr
    assert path.read_bytes() == APPLIED.replace("\n", "\r\n").encode()


def test_no_newline_at_the_end_and_a_one_line_body(tmp_path: Path) -> None:
    source = "def one(): return 1"
    path = project(tmp_path, source)
    home = tmp_path / "home"
    diff = drain_ls("run", ".", "--diff", cwd=tmp_path, home=home)
    assert diff.returncode == 1, diff.stderr
    # The editor's action moves a one-line body under the docstring.
    after = 'def one():\n    """TODO: Summarize `one`.\n\n    Returns:\n        TODO.\n    """\n    return 1'
    assert diff.stdout.decode() == (
        "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1 +1,7 @@\n"
        "-def one(): return 1\n\\ No newline at end of file\n"
        + "".join(f"+{line}\n" for line in after.split("\n")[:-1])
        + "+    return 1\n\\ No newline at end of file\n"
    )
    assert drain_ls("run", ".", "--apply", cwd=tmp_path, home=home).returncode == 0
    assert path.read_text() == after


def _main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


TWO = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"


def test_a_definition_edited_during_the_run_is_stale_and_not_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project(tmp_path, TWO)
    monkeypatch.setenv("DRAIN_LS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    edited = TWO.replace("return a + b", "return b + a")
    answer = OfflineBackend.complete

    async def complete(
        self: OfflineBackend, request: DrainRequest, progress: Progress
    ) -> DrainResponse:
        if request.drain == "docstrings" and "def add" in request.scope:
            path.write_text(edited)  # the user saves `add` while the run goes on
        return await answer(self, request, progress)

    monkeypatch.setattr(OfflineBackend, "complete", complete)
    code, out, err = _main(["run", ".", "--apply"], capsys)
    assert code == 0, err
    assert out.rstrip().endswith(
        "Inserted 1 generated docstring into 1 file; 1 stale result skipped "
        "(made for a definition that has changed)."
    )
    sub_doc = '    """TODO: Summarize `sub`.\n\n    Args:\n        a: TODO.\n        b: TODO.\n\n    Returns:\n        TODO.\n    """\n'
    # `add` as the user left it, without the docstring made for its earlier text.
    assert path.read_text() == edited.replace("def sub(a, b):\n", "def sub(a, b):\n" + sub_doc)


def test_a_docstring_that_would_break_the_file_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # An insertion that breaks the file (as re-indenting a docstring at a form feed once
    # did, before drain_ls.analysis.skeletons._reindent split only at line breaks): played
    # by a re-indent that loses the closing quotes of one answer.
    path = project(tmp_path, TWO)
    monkeypatch.setenv("DRAIN_LS_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    answer = OfflineBackend.complete

    async def complete(
        self: OfflineBackend, request: DrainRequest, progress: Progress
    ) -> DrainResponse:
        if request.drain == "docstrings" and "def add" in request.scope:
            return DrainResponse('"Add them, badly."', Usage(), "end_turn", "offline")
        return await answer(self, request, progress)

    monkeypatch.setattr(OfflineBackend, "complete", complete)
    from drain_ls.analysis import skeletons

    reindent = skeletons._reindent

    def broken(literal: str, indent: str, newline: str) -> str:
        done = reindent(literal, indent, newline)
        return done[:-1] if "badly" in literal else done

    monkeypatch.setattr(skeletons, "_reindent", broken)
    code, out, err = _main(["run", ".", "--diff"], capsys)
    assert code == 1
    assert out == ""  # nothing to show for that file
    assert (
        "error: pkg/mod.py: cannot insert the docstrings: the fixed file would not parse\n" in err
    )
    code, out, err = _main(["run", ".", "--apply"], capsys)
    assert code == 1
    assert (
        "error: pkg/mod.py: cannot insert the docstrings: the fixed file would not parse\n" in err
    )
    assert path.read_text() == TWO  # not written, not even its other docstring
    assert "Inserted 0 generated docstrings into 0 files" in out


def test_a_file_that_cannot_be_replaced_is_left_alone(tmp_path: Path) -> None:
    path = project(tmp_path, TWO)
    os.link(path, tmp_path / "second-name.txt")  # replacing it would split the hard links
    home = tmp_path / "home"
    applied = drain_ls("run", "pkg", "--apply", cwd=tmp_path, home=home)
    assert applied.returncode == 1
    assert path.read_text() == TWO
    assert (
        "error: pkg/mod.py: cannot write the docstrings: has 2 hard links; not written "
        "(replacing it would split them)\n" in applied.stderr.decode()
    )


def test_show_errors_are_one_line(tmp_path: Path) -> None:
    project(tmp_path, TWO)
    home = tmp_path / "home"
    missing = drain_ls("show", "pkg/nope.py", cwd=tmp_path, home=home)
    assert missing.returncode == 2
    assert missing.stderr.decode() == "drain-ls: error: pkg/nope.py: no such file or directory\n"

    empty = drain_ls("show", "pkg/mod.py", cwd=tmp_path, home=home)
    assert empty.returncode == 1 and empty.stdout == b""
    assert empty.stderr.decode() == (
        "drain-ls: error: pkg/mod.py: no drain results in the cache "
        "(`drain-ls run pkg/mod.py` makes them)\n"
    )

    assert drain_ls("run", ".", cwd=tmp_path, home=home).returncode == 0
    unknown = drain_ls("show", "pkg/mod.py:ad", cwd=tmp_path, home=home)
    assert unknown.returncode == 2
    assert unknown.stderr.decode() == (
        "drain-ls: error: pkg/mod.py has no definition `ad`; close matches: add\n"
    )
    nothing_close = drain_ls("show", "pkg/mod.py:Zebra.stripes", cwd=tmp_path, home=home)
    assert nothing_close.returncode == 2
    assert nothing_close.stderr.decode() == (
        "drain-ls: error: pkg/mod.py has no definition `Zebra.stripes` (no close match)\n"
    )
    assert drain_ls("show", "pkg/mod.py:sub", cwd=tmp_path, home=home).returncode == 0


# -- against the fake Anthropic API -------------------------------------------------------------

ANTHROPIC_PROJECT = """
[tool.drain-ls.drains]
simplify = { enabled = false }
summaries = { enabled = false }
"""

USER_CONFIG = f"""
[llm]
backend = "anthropic"
model = "{MODEL}"
"""


def _reply(body: dict[str, Any]) -> str:
    sent = json.dumps(body)
    name = "add" if "`add`" in sent else "sub"
    return f'"""{name.capitalize()} two numbers.\n\nReturns:\n    The result.\n"""'


def test_against_the_fake_api_diff_apply_and_show(tmp_path: Path) -> None:
    path = project(tmp_path, TWO, ANTHROPIC_PROJECT)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(USER_CONFIG)
    with FakeAnthropic(reply=_reply) as fake:
        env = fake_api_env(fake.url, home, API_KEY)
        diff = drain_ls("run", ".", "--diff", "--yes", cwd=tmp_path, home=home, env=env)
        assert diff.returncode == 1, diff.stderr
        assert diff.stdout.decode() == (
            "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,6 +1,16 @@\n"
            " def add(a, b):\n"
            '+    """Add two numbers.\n+\n+    Returns:\n+        The result.\n+    """\n'
            "     return a + b\n \n \n"
            " def sub(a, b):\n"
            '+    """Sub two numbers.\n+\n+    Returns:\n+        The result.\n+    """\n'
            "     return a - b\n"
        )
        assert len(fake.log) == 2 and path.read_text() == TWO

        # show: the model's answer with what the API billed for it.
        shown = json.loads(
            drain_ls("show", "pkg/mod.py:add", "--json", cwd=tmp_path, home=home).stdout
        )
        [result] = shown["definitions"][0]["results"]
        billed = [
            b
            for b, entry in zip(fake.billed, fake.log, strict=True)
            if "`add`" in json.dumps(entry)
        ]
        assert len(billed) == 1
        usage = Usage(
            billed[0].input_tokens,
            billed[0].output_tokens,
            billed[0].cache_read_tokens,
            billed[0].cache_write_tokens,
        )
        price = price_of(MODEL)
        assert price is not None
        key, row = row_for(home, "docstrings", "Add two numbers")
        assert result == {
            "drain": "docstrings",
            "text": '"""Add two numbers.\n\nReturns:\n    The result.\n"""',
            "model": MODEL,
            "backend": "anthropic",
            "createdAt": when(row["created"]),
            "tokens": usage.total,
            "costUsd": round(cost_usd(usage, price), 6),
            "stale": False,
            "dismissed": False,
            "key": key,
        }
        assert usage.total > 0 and result["costUsd"] > 0

        # `sub` changes; its new docstring request fails: the one made for its earlier text
        # is stale, never applied. `add`'s comes from the cache (nothing sent for it).
        edited = TWO.replace("return a - b", "return -(b - a)")
        path.write_text(edited)
        fake.scenarios = ["400"]
        applied = drain_ls("run", ".", "--apply", "--yes", cwd=tmp_path, home=home, env=env)
        assert applied.returncode == 0, applied.stderr
        assert len(fake.log) == 3  # only `sub`'s new text was asked for
        assert (
            applied.stdout.decode()
            .rstrip()
            .endswith(
                "Inserted 1 generated docstring into 1 file; 1 stale result skipped "
                "(made for a definition that has changed)."
            )
        )
        assert path.read_text() == edited.replace(
            "def add(a, b):\n",
            'def add(a, b):\n    """Add two numbers.\n\n    Returns:\n        The result.\n    """\n',
        )

        text = drain_ls("show", "pkg/mod.py:sub", cwd=tmp_path, home=home)
        assert text.returncode == 0, text.stderr
        _, sub_row = row_for(home, "docstrings", "Sub two numbers")
        assert text.stdout.decode() == (
            "pkg/mod.py:10: sub (function)\n"
            "  docstrings [STALE: made for an earlier text of this definition]: "
            f"{MODEL} (anthropic), {when(sub_row['created'], True)}, "
            f"{sub_row['tokens']:,} tokens, ${sub_row['cost']:.6f}\n"
            '    """Sub two numbers.\n\n    Returns:\n        The result.\n    """\n'
        )
