"""Reading the client's messages from a stdin pipe on the event loop."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from drain_ls.transport import PipeReader, is_own_pipe, pipe_reader

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the pipe reader is POSIX only")


def test_only_a_pipe_of_its_own_is_read_on_the_loop(tmp_path: Path) -> None:
    r, w = os.pipe()
    r2, w2 = os.pipe()
    a, b = socket.socketpair()
    file = tmp_path / "input"
    file.write_bytes(b"")
    with (
        open(r, "rb") as stdin,
        open(w2, "wb") as stdout,
        open(w, "wb") as same,
        open(r2, "rb"),
        open(file, "rb") as regular,
        a,
        b,
    ):
        assert is_own_pipe(stdin, stdout)
        assert not is_own_pipe(stdin, same)  # one pipe: its two ends share the inode
        assert not is_own_pipe(regular, stdout)
        assert not is_own_pipe(a.makefile("rb"), stdout)  # a socket shared with the client
        assert not is_own_pipe(stdin, None)  # type: ignore[arg-type]


async def test_messages_are_read_whole_and_a_cut_body_ends_the_input() -> None:
    r, w = os.pipe()
    with open(r, "rb", buffering=0) as stdin:
        reader = await pipe_reader(stdin)
        assert isinstance(reader, PipeReader)
        body = b'{"jsonrpc": "2.0", "method": "exit"}'
        os.write(w, b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
        assert await reader.readline() == b"Content-Length: %d\r\n" % len(body)
        assert await reader.readline() == b"\r\n"
        pending = asyncio.ensure_future(reader.readexactly(len(body)))
        await asyncio.sleep(0.01)
        assert not pending.done()  # waits for the rest of the body
        os.write(w, body[10:] + b"Content-Length: 99\r\n\r\n{")
        assert await pending == body
        assert await reader.readline() == b"Content-Length: 99\r\n"
        assert await reader.readline() == b"\r\n"
        os.close(w)
        assert await reader.readexactly(99) == b"{"  # the client went away mid-message
        assert await reader.readline() == b""
