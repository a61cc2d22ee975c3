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
    assert context_used(path) == 25 + 500 + 1000


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
