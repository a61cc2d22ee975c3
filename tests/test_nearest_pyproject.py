"""The nearest ``pyproject.toml`` at or above each file sets its rules, in the editor as in
``drain-ls check`` (one loader: ``drain_ls.config.workspace``; issue 19).

A workspace with a root ``pyproject.toml`` and a ``sub/pyproject.toml`` that selects other
rules and an older target version: ``drain-ls check`` and the server (three client presets)
report the same codes for each file; editing ``sub/pyproject.toml`` (and telling the server
as editors do) changes the diagnostics of ``sub/``'s files only; an invalid value in a nested
``pyproject.toml`` is a warning in the editor and the one-line error of ``drain-ls check``.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from drain_ls.config.workspace import ProjectFinder, check_settings_of
from drain_ls.files import ConfigError, find_project_config
from tests.lsp_support import CLIENTS, start_server, wait_until

ROOT = Path(__file__).resolve().parent.parent

ROOT_PYPROJECT = """\
[project]
name = "mono"
requires-python = ">=3.11"

[tool.drain-ls]
select = ["F401", "E999"]
"""
SUB_PYPROJECT = """\
[project]
name = "sub"

[tool.drain-ls]
select = ["D1", "E999"]
target-version = "py38"
"""
# An unused import, missing docstrings, and a `match` statement (Python 3.10: an E999 for
# py38, fine for py311).
CODE = "import os\n\n\ndef f(x):\n    match x:\n        case 1:\n            return 1\n"
FILES = ["a.py", "pkg/c.py", "sub/b.py", "sub/inner/d.py"]
ROOT_CODES = ["F401"]
SUB_CODES = ["D100", "D103", "E999"]
EXPECTED = {"a.py": ROOT_CODES, "pkg/c.py": ROOT_CODES, "sub/b.py": SUB_CODES}
EXPECTED["sub/inner/d.py"] = SUB_CODES


def make_workspace(root: Path, sub: str = SUB_PYPROJECT) -> Path:
    (root / "pyproject.toml").write_text(ROOT_PYPROJECT)
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(CODE)
    (root / "sub" / "pyproject.toml").write_text(sub)
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DRAIN_LS_HOME": str(root / ".home")}
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", "check", "--no-cache", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def cli_codes(root: Path, *paths: str) -> dict[str, list[str]]:
    result = cli(root, "--format", "json", *paths)
    assert result.returncode in (0, 1), result.stderr
    codes: dict[str, list[str]] = {}
    for finding in json.loads(result.stdout):
        name = Path(finding["filename"]).relative_to(root).as_posix()
        codes.setdefault(name, []).append(finding["code"])
    return {name: sorted(found) for name, found in codes.items()}


def test_check_reads_each_file_s_nearest_pyproject(tmp_path: Path) -> None:
    """Whatever paths it is given: the whole tree, a file, a directory, several."""
    root = make_workspace(tmp_path)
    assert cli_codes(root, ".") == EXPECTED
    assert cli_codes(root, "a.py", "sub", "pkg") == EXPECTED  # (the first path's was used)
    assert cli_codes(root, "sub/b.py", "a.py") == {n: EXPECTED[n] for n in ("a.py", "sub/b.py")}
    assert cli_codes(root / "sub", ".") == {"b.py": SUB_CODES, "inner/d.py": SUB_CODES}
    # The flags are the user's: they win over every project's, as in the editor.
    assert set(cli_codes(root, "--select", "F401", ".")) == set(FILES)
    assert cli_codes(root, "--ignore", "D103", "sub")["sub/b.py"] == ["D100", "E999"]


def test_check_names_the_nested_pyproject_with_an_invalid_value(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, SUB_PYPROJECT + 'docstring-style = "bogus"\n')
    for paths in ([".", "--fix"], ["sub/b.py"]):
        result = cli(root, *paths)
        assert result.returncode == 2, result.stdout
        path = (root / "sub" / "pyproject.toml").resolve()
        assert result.stderr == (
            f"drain-ls: error: {path}: [tool.drain-ls] docstring-style must be one of "
            "google, numpy, sphinx\n"
        )
    assert (root / "a.py").read_text() == CODE  # nothing was fixed before the error
    (root / "sub" / "pyproject.toml").write_text("[tool.drain-ls\n")
    result = cli(root, ".")
    assert result.returncode == 2 and "sub/pyproject.toml: " in result.stderr
    assert result.stderr.count("\n") == 1
    assert cli_codes(root, "a.py") == {"a.py": ROOT_CODES}  # a file the broken one is not above


def test_one_loader_strict_and_lenient(tmp_path: Path) -> None:
    """``check_settings_of``: the same settings for a valid table either way; an invalid
    value is ``drain-ls check``'s error, and the editor's warning (the value ignored)."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.9"\n[tool.drain-ls]\nselect = [" D1"]\n'
        'ignore = "D107"\ntarget-version = "3.10"\n'
    )
    project = find_project_config(tmp_path)
    strict, _ = check_settings_of(project, strict=True)
    lenient, problems = check_settings_of(project)
    assert strict == lenient and not problems
    assert lenient.target_version.setting == "py310"
    assert "D107" not in lenient.select and "D103" in lenient.select
    # The user's settings win, as before.
    mine, _ = check_settings_of(project, {"select": ["F401"], "docstringStyle": "numpy"})
    assert mine.select == frozenset({"F401"}) and mine.docstring_style == "numpy"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.drain-ls]\nselect = ["X9"]\ndocstring-style = "numpy"\n'
    )
    project = find_project_config(tmp_path)
    with pytest.raises(ConfigError, match="unknown rule selector `X9`"):
        check_settings_of(project, strict=True)
    settings, problems = check_settings_of(project, source="sub/pyproject.toml")
    assert settings.docstring_style == "numpy"  # the valid values are kept
    assert len(settings.select) > 1  # the invalid one is not
    assert problems and problems[0].startswith("sub/pyproject.toml: setting `select`")


def test_the_finder_looks_once_and_again_when_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_workspace(tmp_path)
    finder = ProjectFinder()
    assert finder.root_of(root / "sub" / "inner") == (root / "sub").resolve()
    assert finder.root_of(root / "pkg") == root.resolve()
    assert finder.config(finder.root_of(root / "sub")).table["target-version"] == "py38"
    sub = (root / "sub").resolve()
    looked: list[str] = []
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: looked.append(str(p)) or real_stat(p))
    for _ in range(3):
        assert finder.root_of(root / "sub" / "inner") == sub
        finder.config(finder.root_of(root / "sub"))
    assert looked == []  # cached: no file system access
    assert finder.changed() == []
    (root / "sub" / "pyproject.toml").write_text(SUB_PYPROJECT + "# edited\n")
    assert finder.changed() == [(root / "sub").resolve() / "pyproject.toml"]
    (root / "pkg" / "pyproject.toml").write_text("[tool.drain-ls]\n")
    finder.forget(root / "pkg" / "pyproject.toml")
    assert finder.root_of(root / "pkg") == (root / "pkg").resolve()


# -- the editor -------------------------------------------------------------------------------


async def _codes(client: LanguageClient, uri: str, pull: bool) -> list[str] | None:
    if pull:
        report = await client.text_document_diagnostic_async(
            types.DocumentDiagnosticParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        assert isinstance(report, types.RelatedFullDocumentDiagnosticReport)
        return sorted(str(d.code) for d in report.items)
    found = client.diagnostics.get(uri)
    return None if found is None else sorted(str(d.code) for d in found)


async def _server(root: Path, preset: str) -> LanguageClient:
    env = {"DRAIN_LS_HOME": str(root / ".home")}
    return await start_server(root, {"diagnostics": {"debounceMs": 0}}, env, preset)


def _open(client: LanguageClient, root: Path, name: str) -> str:
    uri = (root / name).as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=(root / name).read_text()
            )
        )
    )
    return uri


async def _all_codes(client: LanguageClient, root: Path, pull: bool) -> dict[str, Any]:
    out = {}
    for name in FILES:
        uri = (root / name).as_uri()
        await wait_until(lambda uri=uri: pull or uri in client.diagnostics)
        out[name] = await _codes(client, uri, pull)
    return out


def _tell_server(client: LanguageClient, root: Path, preset: str) -> None:
    """What the editor does when ``sub/pyproject.toml`` is saved: a client that registered
    the server's watcher reports it; Neovim (no dynamic registration of watchers on Linux)
    only saves the buffer, of a Python document here."""
    path = root / "sub" / "pyproject.toml"
    if preset == "neovim":
        client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=(root / "sub" / "b.py").as_uri())
            )
        )
        return
    registrations = client.registrations  # type: ignore[attr-defined]
    (watch,) = [r for r in registrations if r.method == types.WORKSPACE_DID_CHANGE_WATCHED_FILES]
    assert watch.register_options["watchers"][0]["globPattern"] == "**/pyproject.toml"
    client.workspace_did_change_watched_files(
        types.DidChangeWatchedFilesParams(
            changes=[types.FileEvent(uri=path.as_uri(), type=types.FileChangeType.Changed)]
        )
    )


@pytest.mark.parametrize("preset", list(CLIENTS))
async def test_the_editor_reports_what_check_reports_and_follows_an_edit(
    tmp_path: Path, preset: str
) -> None:
    root = make_workspace(tmp_path)
    pull = preset == "neovim"
    client = await _server(root, preset)
    try:
        uris = {name: _open(client, root, name) for name in FILES}
        assert await _all_codes(client, root, pull) == cli_codes(root, ".") == EXPECTED
        if not pull:
            await wait_until(lambda: getattr(client, "registrations", None))
        published = list(client.published)  # type: ignore[attr-defined]
        # sub/ now selects F401 too (still for py38).
        (root / "sub" / "pyproject.toml").write_text(
            SUB_PYPROJECT.replace('["D1", "E999"]', '["F401", "E999"]')
        )
        _tell_server(client, root, preset)
        after = {**EXPECTED, "sub/b.py": ["E999", "F401"], "sub/inner/d.py": ["E999", "F401"]}
        for _ in range(300):
            if await _all_codes(client, root, pull) == after:
                break
            await asyncio.sleep(0.02)
        assert await _all_codes(client, root, pull) == cli_codes(root, ".") == after
        if not pull:  # the root's documents were not analysed again
            again = client.published[len(published) :]  # type: ignore[attr-defined]
            assert {p.uri for p in again} == {uris["sub/b.py"], uris["sub/inner/d.py"]}
    finally:
        await client.shutdown_session()


async def test_the_editor_warns_about_a_nested_pyproject_and_goes_on(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, SUB_PYPROJECT + 'docstring-style = "bogus"\n')
    client = await _server(root, "visual-studio-code")
    try:
        for name in FILES:
            _open(client, root, name)
        codes = await _all_codes(client, root, pull=False)
        assert codes == EXPECTED  # the invalid value is ignored, the rest of sub/'s kept
        message = await wait_until(
            lambda: next((m for m in client.messages if "docstringStyle" in m.message), None)
        )
        assert message.type == types.MessageType.Warning
        assert "sub/pyproject.toml" in message.message and "bogus" in message.message
        # A nested pyproject.toml that is not TOML: a warning naming it; the defaults there.
        (root / "sub" / "pyproject.toml").write_text("[tool.drain-ls\n")
        client.workspace_did_change_watched_files(
            types.DidChangeWatchedFilesParams(
                changes=[
                    types.FileEvent(
                        uri=(root / "sub" / "pyproject.toml").as_uri(),
                        type=types.FileChangeType.Changed,
                    )
                ]
            )
        )
        broken = await wait_until(
            lambda: next((m for m in client.messages if "Expected ']'" in m.message), None)
        )
        assert str((root / "sub").resolve() / "pyproject.toml") in broken.message
        assert broken.type == types.MessageType.Warning
        uri = (root / "sub" / "b.py").as_uri()
        await wait_until(lambda: {"F401", "D100"} <= {d.code for d in client.diagnostics[uri]})
        assert await _codes(client, (root / "a.py").as_uri(), pull=False) == ROOT_CODES
    finally:
        await client.shutdown_session()
