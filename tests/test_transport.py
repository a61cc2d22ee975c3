"""Reading the client's messages from a stdin pipe on the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from pathlib import Path

import pytest

from drain_ls.transport import (
    MAX_HEADER_LINE,
    FrameParser,
    Message,
    PipeReader,
    ThreadReader,
    Unparsable,
    check_envelope,
    is_own_pipe,
    pipe_reader,
    plain_text,
)

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


async def test_a_pipe_is_read_as_the_bytes_arrive_and_its_end_is_empty() -> None:
    r, w = os.pipe()
    with open(r, "rb", buffering=0) as stdin:
        reader = await pipe_reader(stdin)
        assert isinstance(reader, PipeReader)
        pending = asyncio.ensure_future(reader.read())
        await asyncio.sleep(0.01)
        assert not pending.done()  # waits for bytes
        os.write(w, b"Content-Length: 2\r\n\r\n{}")
        assert await pending == b"Content-Length: 2\r\n\r\n{}"
        os.close(w)
        assert await reader.read() == b""


async def test_a_file_or_socket_is_read_by_a_thread_that_does_not_hold_up_the_exit(
    tmp_path: Path,
) -> None:
    a, b = socket.socketpair()
    with a, b, b.makefile("rb") as stdin:
        reader = ThreadReader(stdin)
        a.sendall(b"abc")
        assert await reader.read() == b"abc"
        pending = asyncio.ensure_future(reader.read())  # blocks in the thread
        await asyncio.sleep(0.01)
        assert not pending.done()
        pending.cancel()  # the loop may end: the thread is a daemon
        assert reader._thread is not None and reader._thread.daemon
    file = tmp_path / "input"
    file.write_bytes(b"x" * 10)
    with open(file, "rb") as stdin:
        reader = ThreadReader(stdin)
        assert await reader.read() == b"x" * 10
        assert await reader.read() == b""


# -- framing ---------------------------------------------------------------------------------


def frame(message: object, header: bytes = b"Content-Length", eol: bytes = b"\r\n") -> bytes:
    body = json.dumps(message).encode()
    return header + b": %d" % len(body) + eol + eol + body


def values(parser: FrameParser, data: bytes, step: int = 0) -> list[object]:
    """What ``parser`` makes of ``data`` fed whole (step 0) or ``step`` bytes at a time."""
    events: list[Message | Unparsable] = []
    for start in range(0, len(data), step or len(data) or 1):
        events += parser.feed(data[start : start + (step or len(data))])
    return [e.value if isinstance(e, Message) else "unparsable" for e in events]


M1 = {"jsonrpc": "2.0", "id": 1, "method": "a", "params": {"text": "Content-Length: 9"}}
M2 = {"jsonrpc": "2.0", "method": "b", "params": [1, "é"]}


@pytest.mark.parametrize("step", [0, 1, 7])
def test_frames_are_read_in_any_header_case_with_lf_or_crlf_whatever_the_chunks(
    step: int,
) -> None:
    data = (
        frame(M1)
        + frame(M2, header=b"content-length", eol=b"\n")
        + b"\r\n"  # a blank line between frames
        + b"CONTENT-LENGTH:%d\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        % len(json.dumps(M1))
        + json.dumps(M1).encode()
    )
    parser = FrameParser()
    assert values(parser, data, step) == [M1, M2, M1]
    assert parser.malformed == 0
    assert parser.buffered == 0


BODY = json.dumps(M1).encode()


@pytest.mark.parametrize(
    ("bad", "first"),
    [
        (b"Content-Length: %d\r\n\r\n" % (len(BODY) - 3) + BODY, ["unparsable"]),
        (b"Content-Length: %d\r\n\r\n" % (len(BODY) + 5) + BODY, ["unparsable"]),
        (b"Content-Length: %d\r\n\r\n" % (len(BODY) + 40) + BODY, ["unparsable"]),
        (b"Content-Length: 0\r\n\r\n", ["unparsable"]),
        (b"X-Long: " + b"a" * 70_000 + b"\r\n", []),
        (b"a" * 70_000, []),
        (b"Content-Length: 5\r\n" + b"X: y\r\n" * 20_000, []),
        (b"junk\r\n", []),
        (b"}}", []),
        (b"abcContent-Length: 12\r\n", []),
        (b"Content-Length: 30\r\n\r\n", ["unparsable"]),  # no body: the next frame's header
        (b"Content-Length: -1\r\n\r\n", []),
        (b"Content-Length: 1e3\r\n\r\n", []),
        (b"Content-Length: 99999999999999\r\n\r\n", []),
        (b"Content-Type: x\r\n\r\n{}", []),
        (b"Content-Length: 9\r\n\r\n{not json", ["unparsable"]),
        (b"Content-Length: 4\r\n\r\n\xff\xfe\x00{", ["unparsable"]),
        (b"Content-Length: 4000\r\n\r\n" + b"[" * 4000, ["unparsable"]),  # too deep
    ],
)
@pytest.mark.parametrize("step", [0, 1000])
def test_after_a_malformed_frame_the_next_content_length_header_is_found(
    bad: bytes, first: list[object], step: int, caplog: pytest.LogCaptureFixture
) -> None:
    parser = FrameParser()
    with caplog.at_level(logging.WARNING, logger="drain_ls.transport"):
        assert values(parser, bad + frame(M1) + frame(M2), step) == [*first, M1, M2]
    assert parser.malformed >= 1
    assert len(caplog.records) == 1  # once, plainly
    assert "Traceback" not in caplog.text
    assert parser.buffered == 0


def test_junk_without_a_header_is_not_kept() -> None:
    parser = FrameParser()
    parser.feed(b"junk\r\n")
    for _ in range(100):
        assert parser.feed(b"x" * 65536 + b"content-lengt") == []
        assert parser.buffered < 100
    assert parser.feed(b"h: 2\r\n\r\n{}") == [Message({})]


def test_an_over_long_header_line_is_never_held_whole() -> None:
    parser = FrameParser()
    for _ in range(10):
        parser.feed(b"a" * 50_000)
        assert parser.buffered <= MAX_HEADER_LINE + 50_000
    assert values(parser, frame(M2)) == [M2]


def test_the_end_of_the_input_inside_a_message_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    parser = FrameParser()
    parser.feed(b"Content-Length: 10\r\n\r\n{")
    with caplog.at_level(logging.WARNING, logger="drain_ls.transport"):
        parser.end()
    assert "ended inside a message" in caplog.text


# -- JSON-RPC envelopes and error texts ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], (-32600, None, True)),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, (-32600, 1, True)),
        ({"jsonrpc": "2.0", "id": True, "method": "x"}, (-32600, None, True)),
        ({"jsonrpc": "2.0", "id": 1.5, "method": "x"}, (-32600, None, True)),
        ({"jsonrpc": "1.0", "id": "a", "method": "x"}, (-32600, "a", True)),
        ({"jsonrpc": "1.0", "method": "x"}, (-32600, None, False)),
        ({"jsonrpc": "2.0", "id": 3}, (-32600, 3, True)),
        ({"jsonrpc": "2.0", "id": 3, "result": 1, "error": {}}, (-32600, 3, True)),
        ({"jsonrpc": "2.0", "id": None, "result": 1}, (-32600, None, True)),
        ({"jsonrpc": "2.0", "id": 3, "method": "x"}, None),
        ({"jsonrpc": "2.0", "method": "x"}, None),
        ({"jsonrpc": "2.0", "id": "3", "result": None}, None),
    ],
)
def test_envelopes(data: object, problem: tuple[int, object, bool] | None) -> None:
    rejected = check_envelope(data)
    if problem is None:
        assert rejected is None
    else:
        assert rejected is not None
        assert (rejected.code, rejected.request_id, rejected.answer) == problem


def test_error_texts_are_one_line_without_paths() -> None:
    text = plain_text(
        "[Errno 2] No such file or directory: '/home/me/secret/x.py'\nTraceback (most recent"
    )
    assert text == "[Errno 2] No such file or directory: '<path>'"
    assert plain_text(r"cannot open C:\Users\me\x.py now") == "cannot open <path> now"
    kept = "textDocument/hover at file:///a/b.py, 1/2"
    assert plain_text(kept) == kept
    assert len(plain_text("x" * 1000)) <= 300
