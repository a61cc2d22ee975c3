"""Commit review end to end: a real git repository, a real server, the real SDK, the fake API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from lsprotocol import types

from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import fake_api_env, start_server

CANARY = "canary-env-3f9a1c"
APP = """def main():
    value = compute()
    try:
        use(value)
    except:
        pass
    return value
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=Test", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        env={**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"},
    )


def reply(body: dict[str, Any]) -> str:
    system = json.dumps(body.get("system", ""))
    sent = json.dumps(body["messages"])
    if "You review the commits below" in system:
        if "add helper" in sent:
            return "helper.py:1: `helper` has no docstring."
        return "Looking at the diff:\n- `app.py:5`: a bare except hides every error.\nDone."
    if "CHANGELOG:" in system:
        return "Changelog: " + ("built on the review" if "bare except" in sent else "alone")
    return '"""Do it."""'


async def test_commits_are_reviewed_when_idle(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    (tmp_path / "README.md").write_text("x\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "start")
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / ".env").write_text(f"TOKEN={CANARY}\n")
    git(tmp_path, "add", "-f", "app.py", ".env")
    git(tmp_path, "commit", "-q", "-m", "add app")
    (tmp_path / "pyproject.toml").write_text(
        "[[tool.drain-ls.drains.custom]]\n"
        'name = "changelog"\nprompt = "CHANGELOG: one line for the changelog."\n'
        'scope = "commits"\nafter = "review"\noutput = "report"\n'
    )
    home = tmp_path / "home"
    with FakeAnthropic(reply=reply) as fake:
        options = {
            "llm": {"enabled": True, "backend": "anthropic"},
            "idle": {"delayMs": 30},
            "privacy": {"requireConsent": False},
            "diagnostics": {"debounceMs": 0},
            "drains": {
                "docstrings": {"enabled": False},
                "summaries": {"enabled": False},
                "review": {"pollSeconds": 0.5},
            },
        }
        env = fake_api_env(fake.url, home, "sk-ant-test-review-0123456789")
        client = await start_server(tmp_path, options, env, preset="neovim")
        try:
            uri = (tmp_path / "app.py").as_uri()
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=APP
                    )
                )
            )

            async def diagnostics() -> list[types.Diagnostic]:
                report = await client.text_document_diagnostic_async(
                    types.DocumentDiagnosticParams(
                        text_document=types.TextDocumentIdentifier(uri=uri)
                    )
                )
                return [d for d in report.items if d.code == "review"]  # type: ignore[union-attr]

            found: list[types.Diagnostic] = []
            for _ in range(300):
                found = await diagnostics()
                if found:
                    break
                await asyncio.sleep(0.05)
            (diagnostic,) = found
            assert diagnostic.severity == types.DiagnosticSeverity.Information
            assert diagnostic.message == "review: a bare except hides every error."
            # The line the finding points at, from its indentation to its end (utf-8).
            assert diagnostic.range == types.Range(
                start=types.Position(line=4, character=4), end=types.Position(line=4, character=11)
            )

            async def entries() -> list[dict[str, Any]]:
                report = await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="drain.report")
                )
                return list(report["entries"])

            for _ in range(300):
                if len(await entries()) == 2:
                    break
                await asyncio.sleep(0.05)
            by_drain = {e["drain"]: e for e in await entries()}
            assert "bare except" in by_drain["review"]["text"]
            # The custom drain with scope "commits" ran after the review and got its answer.
            assert by_drain["changelog"]["text"] == "Changelog: built on the review"

            # What was sent: the commit's diff, never the excluded .env file.
            bodies = [r["body"] for r in fake.log if r["body"]]
            review_body = next(b for b in bodies if "You review the commits" in b)
            assert "add app" in review_body and "except:" in review_body
            assert CANARY not in "".join(bodies)

            # Edit the line away: the finding no longer points at anything; no diagnostic.
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(
                                start=types.Position(line=4, character=10),
                                end=types.Position(line=4, character=10),
                            ),
                            text=" ValueError",
                        )
                    ],
                )
            )
            await asyncio.sleep(0.1)
            assert await diagnostics() == []

            # A new commit: only it is reviewed, at the next idle time.
            (tmp_path / "helper.py").write_text("def helper():\n    return 1\n")
            git(tmp_path, "add", "helper.py")
            git(tmp_path, "commit", "-q", "-m", "add helper")
            for _ in range(300):
                reviews = [b for b in (r["body"] for r in fake.log) if "add helper" in b]
                if reviews and any(
                    "no docstring" in e["text"] for e in await entries() if e["drain"] == "review"
                ):
                    break
                await asyncio.sleep(0.05)
            second = next(b for b in (r["body"] for r in fake.log) if "add helper" in b)
            assert "add app" not in second  # reviewed already
            review_requests = [b for b in bodies if "You review the commits" in b]
            assert len(review_requests) == 1
        finally:
            await client.shutdown_session()
