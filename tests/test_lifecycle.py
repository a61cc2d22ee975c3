"""``shutdown`` then ``exit`` back to back (as Helix sends them): the reply, then a clean exit."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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
    assert any(r.get("id") == 2 and "result" in r for r in replies), [
        r for r in replies if "id" in r
    ]


def _read_messages(read: Callable[[int], bytes]) -> Iterator[dict[str, Any]]:
    """LSP messages from a byte stream, until it ends."""
    buffer = b""
    while True:
        while b"\r\n\r\n" not in buffer:
            chunk = read(65536)
            if not chunk:
                return
            buffer += chunk
        header, _, buffer = buffer.partition(b"\r\n\r\n")
        length = int(
            next(h for h in header.split(b"\r\n") if h.startswith(b"Content-Length:"))[15:]
        )
        while len(buffer) < length:
            chunk = read(65536)
            if not chunk:
                return
            buffer += chunk
        body, buffer = buffer[:length], buffer[length:]
        yield json.loads(body)


def _session(uri: str, text: str) -> bytes:
    return b"".join(
        _message(m)
        for m in (
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"capabilities": {}}},
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {
                    "textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}
                },
            },
        )
    )


_END = _message({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}) + _message(
    {"jsonrpc": "2.0", "method": "exit"}
)


def _codes_published(messages: Iterator[dict[str, Any]]) -> list[str]:
    for message in messages:
        if message.get("method") == "textDocument/publishDiagnostics":
            return sorted(d["code"] for d in message["params"]["diagnostics"])
    raise AssertionError("no diagnostics published")


@pytest.mark.parametrize("garbage", [b"", b'Content-Length: 40\r\n\r\n{"jsonrpc": "2.0", "id": 7}'])
def test_serves_over_tcp(tmp_path: Path, unused_tcp_port: int, garbage: bytes) -> None:
    """Over TCP too, and a malformed frame first (a Content-Length longer than its body,
    which swallows the start of the next frame) is skipped, not the end of the session."""
    env = {**os.environ, "DRAIN_LS_HOME": str(tmp_path / "home")}
    port = str(unused_tcp_port)
    server = subprocess.Popen(
        [sys.executable, "-m", "drain_ls", "--tcp", "--host", "127.0.0.1", "--port", port],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                connection = socket.create_connection(("127.0.0.1", unused_tcp_port), timeout=30)
                break
            except OSError:
                assert time.monotonic() < deadline, "the server does not listen"
                time.sleep(0.1)
        with connection:
            connection.sendall(garbage + _session((tmp_path / "m.py").as_uri(), "import os\n"))
            assert _codes_published(_read_messages(connection.recv)) == ["D100", "F401"]
            connection.sendall(_END)
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()


def test_serves_a_stdin_that_is_not_a_pipe(tmp_path: Path) -> None:
    """A file on stdin (not a pipe) is read by pygls's own reader."""
    script = tmp_path / "session.bin"
    script.write_bytes(_session((tmp_path / "m.py").as_uri(), "import os\n") + _END)
    env = {**os.environ, "DRAIN_LS_HOME": str(tmp_path / "home")}
    with open(script, "rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "drain_ls", "--stdio"],
            stdin=stdin,
            capture_output=True,
            env=env,
            timeout=60,
        )
    assert done.returncode == 0
    chunks = [done.stdout]
    assert _codes_published(_read_messages(lambda n: chunks.pop() if chunks else b"")) == [
        "D100",
        "F401",
    ]
