"""Untrusted input: special and oversize files on disk, bad change sets, odd text and URIs.

The command line runs as a user runs it (a real process, with a timeout: a hang fails the
test); the server runs as an editor drives it (pytest-lsp, in the three position encodings).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from drain_ls import files
from tests import lsp_support
from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import (
    CLIENTS,
    fake_api_env,
    range_of,
    server_config,
    start_server,
    wait_until,
)
from tests.test_server_e2e import Session

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")

CLEAN = '"""Clean."""\n'
# The caps (``files.MAX_SOURCE_BYTES``, ``files.MAX_CONFIG_BYTES``), as documented.
MAX_SOURCE_BYTES = 5 * 1024 * 1024
MAX_CONFIG_BYTES = 1024 * 1024


def check(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """``drain-ls check`` in a real process; a hang raises ``TimeoutExpired``."""
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", "check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


# -- the command line: special and oversize source files ------------------------------------


@needs_fifo
def test_a_fifo_in_a_walked_directory_is_one_error_and_no_hang(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    os.mkfifo(tmp_path / "x.py")
    result = check(".", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: x.py: not a regular file (a FIFO), skipped"]
    assert "All checks passed" not in result.stdout
    assert "1 file could not be checked" in result.stdout


@needs_fifo
def test_a_fifo_named_explicitly_is_one_error_not_all_checks_passed(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.py")
    result = check("x.py", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == ["error: x.py: not a regular file (a FIFO), skipped"]
    assert "All checks passed" not in result.stdout


@needs_dev_zero
@pytest.mark.parametrize("named", [False, True], ids=["walked", "named"])
def test_a_link_to_dev_zero_is_one_error_never_read(tmp_path: Path, named: bool) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    (tmp_path / "big.py").symlink_to("/dev/zero")
    result = check("big.py" if named else ".", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: big.py: not a regular file (a character device), skipped"
    ]
    assert "All checks passed" not in result.stdout


def test_an_oversize_file_is_one_error_and_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    with open(tmp_path / "huge.py", "wb") as handle:
        handle.truncate(MAX_SOURCE_BYTES + 1)  # sparse: its size says it all
    result = check(".", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: huge.py: too large ({MAX_SOURCE_BYTES + 1:,} bytes; "
        f"the limit is {MAX_SOURCE_BYTES:,}), skipped"
    ]


@needs_fifo
def test_a_walk_never_opens_a_special_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    os.mkfifo(tmp_path / "x.py")
    opened: list[str] = []
    real_open = os.open

    def spy(path: Any, *args: Any, **kwargs: Any) -> int:
        opened.append(os.fspath(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    told: list[tuple[Path, str]] = []
    found = list(
        files.discover(
            [tmp_path], files.Excluder(files.ProjectConfig()), lambda p, r: told.append((p, r))
        )
    )
    assert found == [tmp_path / "clean.py"]
    assert told == [(tmp_path / "x.py", "not a regular file (a FIFO), skipped")]
    assert not any(p.endswith("x.py") for p in opened)
    # Read anyway, it is refused without being opened.
    fifo = str(tmp_path / "x.py")
    assert files.read_source(fifo) == (None, "not a regular file (a FIFO), skipped")
    assert fifo not in opened
    # A FIFO put in a regular file's place between the stat and the open: it never blocks.
    real_stat = os.stat
    looks_regular = real_stat(tmp_path / "clean.py")

    def stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        return looks_regular if os.fspath(path) == fifo else real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    started = time.monotonic()
    assert files.read_source(fifo) == (None, "not a regular file (a FIFO), skipped")
    assert fifo in opened
    assert time.monotonic() - started < 5


# -- the command line: pyproject.toml and .gitignore ------------------------------------------


def _write_pyproject(root: Path, kind: str) -> str:
    """Make ``root/pyproject.toml`` of ``kind``; the message it must give."""
    path = root / "pyproject.toml"
    if kind == "fifo":
        os.mkfifo(path)
        return "not a regular file (a FIFO)"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
        return "not a regular file (a character device)"
    if kind == "100MB":
        with open(path, "wb") as handle:
            handle.truncate(100 * 1024 * 1024)
        return f"too large ({100 * 1024 * 1024:,} bytes; the limit is {MAX_CONFIG_BYTES:,})"
    text, message = {
        "tool-not-a-table": ("tool = 5\n", "`tool` must be a table"),
        "drain-ls-not-a-table": ("[tool]\ndrain-ls = 5\n", "[tool.drain-ls] must be a table"),
        "nested-too-deep": ("a = " + "[" * 50_000 + "]" * 50_000 + "\n", "nested too deeply"),
        "not-utf-8": ('[tool.drain-ls]\nselect = ["\xe9"]\n', "not valid UTF-8"),
    }[kind]
    path.write_bytes(text.encode("latin-1") if kind == "not-utf-8" else text.encode())
    return message


PYPROJECTS = [
    pytest.param("fifo", marks=needs_fifo),
    pytest.param("dev-zero", marks=needs_dev_zero),
    "100MB",
    "tool-not-a-table",
    "drain-ls-not-a-table",
    "nested-too-deep",
    "not-utf-8",
]


@pytest.mark.parametrize("kind", PYPROJECTS)
def test_a_bad_pyproject_is_one_clear_usage_error(tmp_path: Path, kind: str) -> None:
    (tmp_path / "clean.py").write_text(CLEAN)
    message = _write_pyproject(tmp_path, kind)
    result = check(".", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"drain-ls: error: {tmp_path / 'pyproject.toml'}: ")
    assert message in lines[0]


@pytest.mark.parametrize("kind", PYPROJECTS)
def test_find_project_config_raises_only_config_error(tmp_path: Path, kind: str) -> None:
    message = _write_pyproject(tmp_path, kind)
    (tmp_path / "sub").mkdir()
    started = time.monotonic()
    with pytest.raises(files.ConfigError, match=re.escape(message)):
        files.find_project_config(tmp_path / "sub")
    assert time.monotonic() - started < 5


def test_find_project_config_gives_root_and_table(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.drain-ls]\nselect = ["F"]\n')
    (tmp_path / "a" / "b").mkdir(parents=True)
    config = files.find_project_config(tmp_path / "a" / "b")
    assert config.root == tmp_path.resolve()
    assert config.table == {"select": ["F"]}
    assert files.find_project_config(Path("/nonexistent\0dir")).table == {}


@needs_fifo
def test_a_fifo_gitignore_is_a_warning_not_a_hang(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    os.mkfifo(tmp_path / ".gitignore")
    (tmp_path / "mod.py").write_text('"""Module."""\nimport os\n')
    result = check(".", cwd=tmp_path)
    assert result.returncode == 1  # the finding
    assert "mod.py:2:8: F401" in result.stdout
    assert result.stderr.splitlines() == [
        f"warning: {tmp_path / '.gitignore'}: not a regular file (a FIFO); "
        "its patterns are not applied"
    ]


def test_fix_writes_only_a_regular_file(tmp_path: Path) -> None:
    path = tmp_path / "mod.py"
    path.write_text('"""Module."""\nimport os\n')
    result = check("--fix", "mod.py", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert path.read_text() == '"""Module."""\n'
    if hasattr(os, "mkfifo"):
        fifo = tmp_path / "f"
        os.mkfifo(fifo)
        with pytest.raises(OSError):  # no reader: ENXIO; with one, UnreadableFile
            files.write_regular(fifo, b"x")  # never blocks, never writes


def test_fix_never_writes_through_a_symbolic_link(tmp_path: Path) -> None:
    outside, tree = tmp_path / "outside", tmp_path / "tree"
    outside.mkdir()
    tree.mkdir()
    victim = outside / "victim.py"
    victim.write_text('"""Victim."""\nimport os\n')
    (tree / "evil.py").symlink_to(victim)
    result = check("--fix", ".", cwd=tree)
    assert victim.read_text() == '"""Victim."""\nimport os\n'  # untouched
    assert result.returncode != 0
    assert "a symbolic link, not written" in result.stdout + result.stderr
    with pytest.raises(files.UnreadableFile, match="symbolic link"):
        files.write_regular(tree / "evil.py", b"x")
    assert victim.read_text() == '"""Victim."""\nimport os\n'


# Backtracking: seconds per match at 32 ``a``s, tripled by every 2 more, before the fix.
SLOW_PATTERN = "*a*a*a*a*a*a*a*a*a*a*a*a*b"


def _excluder_time(root: Path, path: Path) -> float:
    """The fastest of 3 decisions by a fresh ``Excluder`` (its .gitignore read and compiled),
    in seconds of this process's CPU time (not the time other processes ran meanwhile)."""
    best = float("inf")
    for _ in range(3):
        excluder = files.Excluder(files.ProjectConfig(root), warn=lambda message: None)
        start = time.process_time()
        excluder.excluded(path, is_dir=False)
        best = min(best, time.process_time() - start)
    return best


def test_a_backtracking_gitignore_pattern_is_dropped_with_one_warning(tmp_path: Path) -> None:
    slow, plain = tmp_path / "slow", tmp_path / "plain"
    name = "a" * 32 + ".py"
    for root, pattern in ((slow, SLOW_PATTERN), (plain, "*.txt")):
        (root / ".git").mkdir(parents=True)
        (root / ".gitignore").write_text(f"*.txt\n{pattern}\nignored_*.py\n")
        (root / "src").mkdir()
        (root / "src" / name).write_text('"""Module."""\nimport os\n')
        (root / "src" / "ignored_x.py").write_text("import os\n")
    ratio = _excluder_time(slow, slow / "src" / name) / _excluder_time(plain, plain / "src" / name)
    assert ratio < 50, ratio
    result = check(".", cwd=slow)
    assert result.returncode == 1  # the finding: the dropped pattern excludes nothing
    assert f"{name}:2:8: F401" in result.stdout
    assert "ignored_x.py" not in result.stdout  # the other patterns still apply
    assert result.stderr.splitlines() == [
        f"warning: {slow / '.gitignore'}: line 2: more than 2 `*` in one path segment "
        "(matching it could take hours); the pattern is dropped"
    ]


def test_a_backtracking_exclude_setting_is_dropped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.drain-ls]\nextend-exclude = ["**/*a*a/**/*a*b", "skip_*.py"]\n'
    )
    (tmp_path / "skip_me.py").write_text("import os\n")
    told: list[str] = []
    excluder = files.Excluder(files.find_project_config(tmp_path), warn=told.append)
    assert excluder.excluded(tmp_path / "skip_me.py", is_dir=False)
    assert not excluder.excluded(tmp_path / "aa" / "x" / "aab", is_dir=False)
    assert len(told) == 1 and "pyproject.toml: exclude entry 1: more than 3 wildcards" in told[0], (
        told
    )


@pytest.mark.parametrize(
    "pattern", ["*.py", "build/", "**/gen_*.py", "a*b*.txt", "**/a/**/b", "*.tar.*", "!keep.py"]
)
def test_ordinary_patterns_are_never_dropped(pattern: str) -> None:
    assert files.slow_pattern(pattern) is None
    assert files.slow_pattern("# " + SLOW_PATTERN) is None  # a comment
    assert files.slow_pattern("\\*\\*\\*" + pattern) is None  # escaped: no wildcards


# -- the server -------------------------------------------------------------------------------


@pytest_lsp.fixture(params=list(CLIENTS), config=server_config())
async def client(request: pytest.FixtureRequest, lsp_client: LanguageClient, tmp_path: Path):  # type: ignore[no-untyped-def]
    preset = request.param
    result = await lsp_client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(preset),
            root_uri=tmp_path.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=tmp_path.as_uri(), name="ws")],
            initialization_options={"diagnostics": {"debounceMs": 0}},
        )
    )
    assert result.capabilities.position_encoding == CLIENTS[preset]
    lsp_client.preset = preset  # type: ignore[attr-defined]
    lsp_client.root = tmp_path  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


@pytest.fixture
def session(client: LanguageClient, monkeypatch: pytest.MonkeyPatch) -> Session:
    # The editor-side helpers, taught what an editor's buffer can hold: a lone surrogate is
    # one UTF-16 unit, one code point, and three UTF-8 bytes (WTF-8, or U+FFFD once saved).
    plain = lsp_support.units

    def units(ch: str, encoding: str) -> int:
        if encoding == "utf-8" and "\ud800" <= ch <= "\udfff":
            return 3
        return plain(ch, encoding)

    monkeypatch.setattr(lsp_support, "units", units)
    return Session(client, client.preset, client.root)  # type: ignore[attr-defined]


def _partial(range_: types.Range, text: str) -> types.TextDocumentContentChangePartial:
    return types.TextDocumentContentChangePartial(range=range_, text=text)


def _send(session: Session, uri: str, version: int, changes: list[Any]) -> None:
    session.client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=changes,
        )
    )


async def _status(session: Session) -> dict[str, Any]:
    """``drain.status``; also a barrier: every notification sent before it is handled."""
    status = await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="drain.status")
    )
    assert isinstance(status, dict)
    return status


async def _document(session: Session, uri: str) -> dict[str, Any]:
    return next(d for d in (await _status(session))["documents"] if d["uri"] == uri)


async def _raw_actions(session: Session, uri: str, range_: types.Range) -> Any:
    return await session.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=range_,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )


def _rejections(session: Session) -> list[types.ShowMessageParams]:
    return [m for m in session.client.messages if "ignored an edit" in m.message]


def _published_versions(session: Session, uri: str) -> list[int | None]:
    published = session.client.published  # type: ignore[attr-defined]
    return [p.version for p in published if p.uri == uri]


async def test_a_change_set_that_cannot_be_applied_is_rejected_as_a_whole(
    session: Session,
) -> None:
    text = '"""Doc."""\nimport os\n\nprint(os.sep)  # é😀\n'
    uri = session.open("sync.py", text)
    assert await session.diagnostics(uri) == []
    # One didChange: the first change alone would leave `os` unused; the second is past the
    # end. Neither may be applied.
    edited = text.replace("os.sep", "1")
    past_the_end = types.Range(
        start=types.Position(line=50, character=0), end=types.Position(line=50, character=0)
    )
    _send(
        session,
        uri,
        2,
        [_partial(range_of(text, "os.sep", session.encoding), "1"), _partial(past_the_end, "x")],
    )
    message = await wait_until(lambda: _rejections(session))
    assert message[0].type == types.MessageType.Error
    assert "line 50" in message[0].message and "reopen" in message[0].message
    document = await _document(session, uri)
    assert (document["version"], document["bytes"]) == (1, len(text.encode()))
    # The diagnostics are those of the last good text: no F401 for `os`.
    assert await session.latest(uri) == []
    assert 2 not in _published_versions(session, uri)
    # No action edits a document out of sync, nor does a fix-all computed before.
    assert not await _raw_actions(session, uri, range_of(text, "os", session.encoding))
    stale = types.CodeAction(
        title="Remove all unused imports",
        kind="source.fixAll.drain-ls",
        data={"uri": uri, "version": 1, "action": "fixAll"},
    )
    assert (await session.client.code_action_resolve_async(stale)).edit is None

    # The user types on: ignored (the server cannot know the editor's text), told once.
    at = range_of(edited, "1", session.encoding)
    edited = edited.replace("print(1)", "print(12)")
    _send(session, uri, 3, [_partial(types.Range(start=at.end, end=at.end), "2")])
    document = await _document(session, uri)
    assert (document["version"], document["bytes"]) == (1, len(text.encode()))
    assert len(_rejections(session)) == 1
    assert not await _raw_actions(session, uri, range_of(text, "os", session.encoding))

    # A whole-text change brings it back in sync; the fixes come back, exact.
    session.versions[uri] = 3
    session.change(uri, None, edited)
    diagnostics = await session.diagnostics(uri)
    assert [(d.code, d.range) for d in diagnostics] == [
        ("F401", range_of(edited, "os", session.encoding))
    ]
    actions = await session.actions(uri, range_of(edited, "os", session.encoding))
    fix = next(a for a in actions if a.title == "Remove unused import `os`")
    assert session.apply(uri, fix.edit) == '"""Doc."""\n\nprint(12)  # é😀\n'


async def test_a_change_set_is_all_or_nothing_whatever_fails(session: Session) -> None:
    text = '"""Doc."""\nimport os\nprint(os)\n'
    uri = session.open("bad.py", text)
    await session.diagnostics(uri)
    backwards = types.Range(
        start=types.Position(line=2, character=3), end=types.Position(line=2, character=1)
    )
    end_past_the_end = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=7, character=0)
    )
    good = _partial(range_of(text, "print(os)", session.encoding), "pass")
    for version, bad in enumerate([backwards, end_past_the_end], start=2):
        _send(session, uri, version, [good, _partial(bad, "x")])
        document = await _document(session, uri)
        assert (document["version"], document["bytes"]) == (1, len(text.encode()))
    # Reopening resyncs too.
    session.client.text_document_did_close(
        types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
    )
    reopened = '"""Doc."""\nimport os\n'
    session.versions[uri] = 7
    session.texts[uri] = reopened
    session.client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=7, text=reopened
            )
        )
    )
    assert [d.code for d in await session.diagnostics(uri)] == ["F401"]
    actions = await session.actions(uri, range_of(reopened, "os", session.encoding))
    assert "Remove unused import `os`" in [a.title for a in actions]


async def test_lone_surrogates_in_a_change_keep_every_position_and_no_fix_writes_over_them(
    session: Session,
) -> None:
    text = '"""Doc."""\nimport os\n\nprint(os.sep)\n'
    uri = session.open("lone.py", text)
    assert await session.diagnostics(uri) == []
    # One didChange of two changes, the second holding a lone surrogate (JSON "\ud800").
    line = range_of(text, "print", session.encoding).start
    first = 'x = "a"; import zlib\n'
    after_first = text.replace("print", first + "print")
    second = range_of(after_first, "a", session.encoding, occurrence=0)
    client_text = after_first.replace('x = "a"', 'x = "\udcff\ud800"')
    _send(
        session,
        uri,
        2,
        [
            _partial(types.Range(start=line, end=line), first),
            _partial(second, "\udcff\ud800"),
        ],
    )
    session.versions[uri] = 2
    session.texts[uri] = client_text
    diagnostics = await session.diagnostics(uri)
    assert [(d.code, d.range) for d in diagnostics] == [
        ("F401", range_of(client_text, "zlib", session.encoding))
    ]
    document = await _document(session, uri)
    assert document["version"] == 2
    # Every fix offered, applied as the editor would, keeps the user's characters.
    actions = await session.actions(uri, range_of(client_text, "zlib", session.encoding))
    results = {a.title: session.apply(uri, a.edit) for a in actions}
    assert results["Remove unused import `zlib`"] == client_text.replace("; import zlib", "")
    assert results["Ignore `F401` on this line"] == client_text.replace(
        "import zlib\n", "import zlib  # noqa: F401\n"
    )
    fix_all = await session.actions(
        uri, range_of(client_text, "zlib", session.encoding), only=["source.fixAll"]
    )
    assert [session.apply(uri, a.edit) for a in fix_all] == [
        client_text.replace("; import zlib", "")
    ]
    # A fix that would write the replacement character is not offered.
    end = lsp_support.position_of(client_text, len(client_text), session.encoding)
    function = 'def f(x="\ud800"):\n    return x\n'
    version = session.change(uri, types.Range(start=end, end=end), function)
    assert version == 3
    diagnostics = await session.diagnostics(uri)
    name = range_of(session.texts[uri], "f(", session.encoding)
    d103 = next(d for d in diagnostics if d.code == "D103")
    assert d103.range.start == name.start
    titles = [a.title for a in await session.actions(uri, d103.range)]
    assert "Ignore `D103` on this line" in titles
    assert "Insert docstring" not in titles  # its `Defaults to "..."` would write U+FFFD


async def test_a_lone_surrogate_in_did_open_opens_the_document(session: Session) -> None:
    text = '"""Doc."""\ns = "\ud800é\udcff😀"; import json\n'
    uri = session.open("open.py", text)
    diagnostics = await session.diagnostics(uri)
    assert [(d.code, d.range) for d in diagnostics] == [
        ("F401", range_of(text, "json", session.encoding))
    ]
    actions = await session.actions(uri, range_of(text, "json", session.encoding))
    fix = next(a for a in actions if a.title == "Remove unused import `json`")
    assert session.apply(uri, fix.edit) == text.replace("; import json", "")


ODD_URIS = [
    "file:///tmp/drain-ls-test/a%00b.py",
    "file:///tmp/drain-ls-test/a%0Ab.py",
    "file:///tmp/drain-ls-test/%ED%A0%80%FF.py",
    "file:///tmp/drain-ls-test/\ud800.py",
    "file:rel/x.py",
    "untitled:Untitled-1",
    "vscode-notebook-cell:/nb.ipynb#W0sZmlsZQ%3D%3D",
    "file:///tmp/" + "d/" * 3000 + "long.py",
    "file:///tmp/" + "n" * 300 + ".py",
]


async def test_odd_uris_open_and_are_analysed(session: Session) -> None:
    text = '"""Doc."""\nimport os\n'
    for uri in ODD_URIS:
        session.versions[uri] = 1
        session.texts[uri] = text
        session.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        assert [d.code for d in await session.diagnostics(uri)] == ["F401"], uri
        fix_all = await session.actions(
            uri, range_of(text, "os", session.encoding), only=["source.fixAll"]
        )
        assert [session.apply(uri, a.edit) for a in fix_all] == ['"""Doc."""\n'], uri
    status = await _status(session)
    assert {d["uri"] for d in status["documents"]} == set(ODD_URIS)


async def test_odd_uris_touch_no_file_with_drains_on(tmp_path: Path) -> None:
    # With a backend that sends (a local fake), the privacy checks look at each document's
    # path: an odd URI has none, and nothing fails.
    options = {
        "llm": {"enabled": True, "backend": "anthropic", "model": "claude-haiku-4-5"},
        "idle": {"delayMs": 50},
        "diagnostics": {"debounceMs": 0},
        "privacy": {"requireConsent": False},
    }
    text = '"""Doc."""\nimport os\n\n\ndef f(a, b):\n    return a + b\n'
    with FakeAnthropic() as fake:
        env = fake_api_env(fake.url, tmp_path / "home")
        client = await start_server(tmp_path, options, env)
        try:
            for uri in ODD_URIS:
                client.text_document_did_open(
                    types.DidOpenTextDocumentParams(
                        text_document=types.TextDocumentItem(
                            uri=uri, language_id="python", version=1, text=text
                        )
                    )
                )
            await wait_until(lambda: all(client.diagnostics.get(u) for u in ODD_URIS))
            await asyncio.sleep(1.0)  # idle: the drains would run now
            status = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="drain.status")
            )
            assert len(status["documents"]) == len(ODD_URIS)
            errors = [m.message for m in client.log_messages if m.type == types.MessageType.Error]
            assert errors == []
            assert fake.log == []  # none of them is a file of the workspace: nothing sent
        finally:
            await client.shutdown_session()


async def test_a_document_over_the_size_cap_is_not_analysed(session: Session) -> None:
    unit = "import os\n"
    big = unit * (MAX_SOURCE_BYTES // len(unit) + 1)
    assert len(big.encode()) > MAX_SOURCE_BYTES
    uri = session.open("huge.py", big)
    diagnostics = await session.diagnostics(uri)
    assert len(diagnostics) == 1
    (only,) = diagnostics
    assert only.severity == types.DiagnosticSeverity.Information
    start = types.Position(line=0, character=0)
    assert only.range == types.Range(start=start, end=start)
    assert f"{len(big.encode()):,} bytes" in only.message
    assert f"limit of {MAX_SOURCE_BYTES:,}" in only.message
    assert not await _raw_actions(session, uri, range_of(big, "os", session.encoding))
    hover = await session.client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=types.Position(line=0, character=8),
        )
    )
    assert hover is None
    # Edited, still too large: still one diagnostic, for the new version.
    session.change(uri, types.Range(start=start, end=start), "x = 1\n")
    assert len(await session.diagnostics(uri)) == 1
    # Back under the cap: analysed as any other document.
    session.change(uri, None, '"""Doc."""\nimport os\n')
    assert [d.code for d in await session.diagnostics(uri)] == ["F401"]


async def test_a_pending_analysis_after_a_rejected_change_keeps_the_good_version(
    session: Session,
) -> None:
    # A good change set, then at once a bad one: what is published is the good version's.
    text = '"""Doc."""\nimport os\nprint(os)\n'
    uri = session.open("race.py", text)
    await session.diagnostics(uri)
    good = text.replace("print(os)", "pass")
    _send(session, uri, 2, [_partial(range_of(text, "print(os)", session.encoding), "pass")])
    bad = types.Range(
        start=types.Position(line=9, character=0), end=types.Position(line=9, character=0)
    )
    _send(session, uri, 3, [_partial(bad, "x")])
    session.versions[uri] = 2
    session.texts[uri] = good
    diagnostics = await session.diagnostics(uri)
    assert [(d.code, d.range) for d in diagnostics] == [
        ("F401", range_of(good, "os", session.encoding))
    ]
    await asyncio.sleep(0.05)
    assert 3 not in _published_versions(session, uri)
    assert (await _document(session, uri))["version"] == 2
