"""``shutdown`` then ``exit`` back to back (as Helix sends them): the reply, then a clean exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.fake_anthropic import FakeAnthropic


def _message(payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_shutdown_and_exit_back_to_back_while_drains_stream(tmp_path: Path) -> None:
    source = "def slow(a):\n    return a\n"
    (tmp_path / "slow.py").write_text(source)
    with FakeAnthropic(reply=lambda body: '"""' + "word " * 400 + '"""', delay=0.05) as fake:
        server = subprocess.Popen(
            [sys.executable, "-m", "drain_ls"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={
                **os.environ,
                "ANTHROPIC_BASE_URL": fake.url,
                "ANTHROPIC_API_KEY": "sk-ant-test-exit-0123456789",
                "DRAIN_LS_HOME": str(tmp_path / "home"),
            },
        )
        assert server.stdin is not None and server.stdout is not None
        uri = (tmp_path / "slow.py").as_uri()
        server.stdin.write(
            _message(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "capabilities": {},
                        "rootUri": tmp_path.as_uri(),
                        "initializationOptions": {
                            "llm": {"enabled": True, "backend": "anthropic"},
                            "idle": {"delayMs": 0},
                            "privacy": {"requireConsent": False},
                        },
                    },
                }
            )
            + _message({"jsonrpc": "2.0", "method": "initialized", "params": {}})
            + _message(
                {
                    "jsonrpc": "2.0",
                    "method": "textDocument/didOpen",
                    "params": {
                        "textDocument": {
                            "uri": uri,
                            "languageId": "python",
                            "version": 1,
                            "text": source,
                        }
                    },
                }
            )
        )
        server.stdin.flush()
        deadline = time.monotonic() + 30
        while not fake.log and time.monotonic() < deadline:
            time.sleep(0.02)  # a drain is streaming now
        assert fake.log
        server.stdin.write(
            _message({"jsonrpc": "2.0", "id": 2, "method": "shutdown"})
            + _message({"jsonrpc": "2.0", "method": "exit"})
        )
        server.stdin.flush()
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    replies = []
    while output:
        header, _, rest = output.partition(b"\r\n\r\n")
        fields = dict(line.split(b":", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        replies.append(json.loads(rest[:length]))
        output = rest[length:]
    assert any(r.get("id") == 2 and "result" in r for r in replies), replies
