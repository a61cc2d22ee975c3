"""The claude-code budget source, on transcripts written the way Claude Code writes them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from drain_ls.claude_code import context_used, latest_session, project_key


def assistant(message_id: str, request_id: str, inputs: int, write: int, read: int) -> str:
    return json.dumps(
        {
            "type": "assistant",
            "requestId": request_id,
            "message": {
                "id": message_id,
                "role": "assistant",
                "usage": {
                    "input_tokens": inputs,
                    "cache_creation_input_tokens": write,
                    "cache_read_input_tokens": read,
                    "output_tokens": 50,
                },
            },
        }
    )


def transcript(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def test_last_assistant_entry_deduplicated(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(
        transcript(
            [
                json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}),
                assistant("m1", "r1", 10, 1000, 0),
                assistant("m1", "r1", 10, 1000, 0),  # one line per content block, same usage
                assistant("m2", "r2", 20, 500, 1000),
                assistant("m2", "r2", 25, 500, 1000),  # the largest of the duplicates counts
                json.dumps({"type": "summary"}),
                '{"type": "assistant", "message": {"usage": ',  # a line still being written
            ]
        )
    )
    assert context_used(path) == (25 + 500 + 1000, None)


def test_latest_transcript_of_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "claude"
    workspace = tmp_path / "my.project"
    workspace.mkdir()
    directory = config / "projects" / project_key(workspace)
    directory.mkdir(parents=True)
    old = directory / "old.jsonl"
    old.write_text(transcript([assistant("a", "b", 1, 1, 1)]))
    new = directory / "new.jsonl"
    new.write_text(transcript([assistant("c", "d", 100, 200, 300)]))
    past = time.time() - 100
    os.utime(old, (past, past))
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config))
    use = latest_session(workspace)
    assert use is not None and use.transcript == new and use.used_tokens == 600
    assert project_key(workspace).endswith("-my-project")
    assert latest_session(tmp_path / "elsewhere") is None


async def test_the_drains_get_what_claude_code_leaves(tmp_path: Path) -> None:
    """End to end: the server reads the workspace's transcript; a full context stops the
    drains (nothing is sent), a compacted one lets them run."""
    import asyncio

    from lsprotocol import types

    from tests.fake_anthropic import FakeAnthropic
    from tests.lsp_support import fake_api_env, start_server, wait_until

    config_dir = tmp_path / "claude"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    directory = config_dir / "projects" / project_key(workspace)
    directory.mkdir(parents=True)
    session = directory / "session.jsonl"
    session.write_text(transcript([assistant("m1", "r1", 5_000, 100_000, 80_000)]))
    with FakeAnthropic(reply=lambda body: '"""Do it."""') as fake:
        env = {
            **fake_api_env(fake.url, tmp_path / "home", "sk-ant-test-claude-0123456789"),
            "CLAUDE_CONFIG_DIR": str(config_dir),
        }
        client = await start_server(
            workspace,
            {
                "llm": {"enabled": True, "backend": "anthropic"},
                "budget": {"source": "claude-code"},
                "idle": {"delayMs": 20},
                "privacy": {"requireConsent": False},
            },
            env,
        )
        try:
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=(workspace / "m.py").as_uri(),
                        language_id="python",
                        version=1,
                        text="def add(a, b):\n    return a + b\n",
                    )
                )
            )

            async def drains() -> dict[str, object]:
                status = await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="drain.status")
                )
                return dict(status["drains"])

            # 185,000 of 200,000 used, 20,000 margin: nothing left for drains.
            for _ in range(200):
                state = await drains()
                if state["state"] == "over-budget":
                    break
                await asyncio.sleep(0.05)
            assert state["state"] == "over-budget"
            assert "budget.minDrainTokens" in str(state["reason"])
            assert state["budgetTokens"] == 0
            assert fake.log == []

            # Claude Code compacts its context: 11,000 used; the drains start.
            with session.open("a") as handle:
                handle.write(assistant("m2", "r2", 1_000, 0, 10_000) + "\n")
            await wait_until(lambda: fake.billed, timeout=30)
            state = await drains()
            assert state["budgetTokens"] == 200_000 - 11_000 - 20_000
        finally:
            await client.shutdown_session()
