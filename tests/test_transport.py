"""Reading the client's messages from a stdin pipe on the event loop."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import socket
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drain_ls.lsp import transport
from drain_ls.lsp.transport import (
    MAX_HEADER_LINE,
    FrameParser,
    Message,
    PipeReader,
    ThreadReader,
    Unparsable,
    is_own_pipe,
    pipe_reader,
    serve,
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
@pytest.mark.parametrize("step", [0, 1000, 5])
@pytest.mark.parametrize("large", [False, True])
def test_after_a_malformed_frame_the_next_content_length_header_is_found(
    bad: bytes,
    first: list[object],
    step: int,
    large: bool,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if large:  # every body is a large one, read (and decoded) as it arrives
        monkeypatch.setattr(transport, "STREAM_BODY", 8)
        monkeypatch.setattr(transport, "LONG_STRING", 4)
    parser = FrameParser()
    with caplog.at_level(logging.WARNING, logger="drain_ls.lsp.transport"):
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


@pytest.mark.parametrize("length", [10, 2 << 20])
def test_the_end_of_the_input_inside_a_message_is_logged(
    length: int, caplog: pytest.LogCaptureFixture
) -> None:
    parser = FrameParser()
    parser.feed(b"Content-Length: %d\r\n\r\n{" % length)
    with caplog.at_level(logging.WARNING, logger="drain_ls.lsp.transport"):
        parser.end()
    assert "ended inside a message" in caplog.text


# -- large bodies: decoded as they arrive ---------------------------------------------------

# Characters that JSON escapes, or that a cut must not split (a UTF-8 sequence, a surrogate
# pair, lone surrogates), and control characters (escaped by json.dumps; raw, an error).
TRICKY = [
    "a",
    " ",
    "é",
    "中",
    "😀",
    '"',
    "\\",
    "/",
    "u",
    "\n",
    "\r",
    "\t",
    "\x00",
    "\ud83d",
    "\ude00",
]
tricky_texts = st.lists(st.sampled_from(TRICKY), max_size=120).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | tricky_texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(tricky_texts, inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(
    json_values,
    st.booleans(),
    st.none() | st.tuples(st.integers(0, 10_000), st.integers(0, 255)),
    st.lists(st.integers(1, 300), min_size=1, max_size=5),
)
def test_a_large_body_decoded_as_it_arrives_is_what_json_loads_gives(
    value: object, ascii: bool, damage: tuple[int, int] | None, steps: list[int]
) -> None:
    message = {"jsonrpc": "2.0", "method": "m", "params": value}
    body = json.dumps(message, ensure_ascii=ascii).encode("utf-8", "surrogatepass")
    if damage is not None:  # one byte changed: most often no longer JSON, or not UTF-8
        at = damage[0] % len(body)
        body = body[:at] + bytes([damage[1]]) + body[at + 1 :]
    try:
        expected: object = json.loads(body)
    except (ValueError, RecursionError):
        expected = "unparsable"
    data = b"Content-Length: %d\r\n\r\n" % len(body) + body + frame(M2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transport, "STREAM_BODY", 16)
        patch.setattr(transport, "LONG_STRING", 8)
        parser = FrameParser()
        events: list[Message | Unparsable] = []
        at, i = 0, 0
        while at < len(data):
            events += parser.feed(data[at : at + steps[i % len(steps)]])
            at += steps[i % len(steps)]
            i += 1
    got = [e.value if isinstance(e, Message) else "unparsable" for e in events]
    assert got[0] == expected
    if expected != "unparsable":
        assert got == [expected, M2]  # and the message behind it, after it
    assert parser.buffered == 0


def test_a_large_didopen_is_decoded_as_it_arrives_and_what_follows_it_waits_its_turn() -> None:
    text = "x = 'é😀'\r\n" * 200_000 + 'y = "\\" + "\\u00e9"\n'  # 2.6 MB
    did_open = {
        "jsonrpc": "2.0",
        "method": "textDocument/didOpen",
        "params": {"textDocument": {"uri": "file:///m.py", "version": 1, "text": text}},
    }
    did_change = {"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"n": 2}}
    hover = {"jsonrpc": "2.0", "id": 7, "method": "textDocument/hover", "params": {}}
    data = frame(did_open) + frame(did_change) + frame(hover)
    parser = FrameParser()
    events: list[Message | Unparsable] = []
    largest = 0
    for at in range(0, len(data), 1 << 16):  # as a pipe delivers it
        events += parser.feed(data[at : at + (1 << 16)])
        if parser._large is not None:
            largest = max(largest, len(parser._large.work))
            assert not events  # nothing overtakes the message being read
    assert [e.value for e in events if isinstance(e, Message)] == [did_open, did_change, hover]
    assert parser.streamed == 1 and parser.buffered == 0
    assert largest < transport.LONG_STRING + (1 << 16)  # only what is not decoded yet is copied


async def test_serve_hands_the_messages_over_in_the_order_they_were_sent() -> None:
    big = {"jsonrpc": "2.0", "method": "open", "params": {"text": "é\n" * 1_000_000}}
    small = [{"jsonrpc": "2.0", "method": f"m{i}", "params": {}} for i in range(3)]
    data = frame(small[0]) + frame(big) + b"".join(frame(m) for m in small[1:])
    chunks = [data[at : at + 100_000] for at in range(0, len(data), 100_000)]

    class Reader:
        async def read(self) -> bytes:
            return chunks.pop(0) if chunks else b""

    class Receiver:
        def __init__(self) -> None:
            self.methods: list[str] = []

        def receive_json(self, value: object) -> None:
            assert isinstance(value, dict)
            self.methods.append(value["method"])
            if value["method"] == "open":
                assert value == big

        def reply_parse_error(self) -> None:
            raise AssertionError("no parse error")

    receiver = Receiver()
    await serve(Reader(), receiver, threading.Event())
    assert receiver.methods == ["m0", "open", "m1", "m2"]


@pytest.mark.parametrize("seed", range(6))
def test_a_long_string_cut_where_it_may_be_decodes_to_the_same_text(seed: int) -> None:
    rng = random.Random(seed)
    text = "".join(rng.choice([*TRICKY, *["code"] * 10]) for _ in range(5000))
    ascii = bool(seed % 2)
    escaped = bytearray(json.dumps(text, ensure_ascii=ascii)[1:-1].encode("utf-8", "surrogatepass"))
    cuts, begin, end = [0], 0, 0
    while end < len(escaped):
        end = min(len(escaped), end + rng.randint(1, 80))
        cut = transport._safe_cut(escaped, begin, end)
        if cut >= 0:
            assert begin < cut <= end
            cuts.append(cut)
            begin = cut
    assert len(cuts) > 50
    parts = [escaped[a:b] for a, b in zip(cuts, [*cuts[1:], len(escaped)], strict=True)]
    whole = json.loads(b'"' + bytes(escaped) + b'"')  # escaped surrogate pairs joined
    assert "".join(json.loads(b'"' + bytes(part) + b'"') for part in parts) == whole
