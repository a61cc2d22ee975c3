"""Reading the client's messages: framing that never goes deaf, and plain JSON-RPC errors.

The client's bytes are split into messages here, not by pygls: pygls's reader accepts only
``Content-Length: N\\r\\n`` exactly, and one frame it cannot read (a length a few bytes short,
a header in lower case or with LF line ends, a header line over 64 KiB) leaves it misaligned
for good, or ends the server. :class:`FrameParser` reads header names in any case, LF line ends
as well as CRLF, and after anything malformed it logs the problem once and scans for the next
``Content-Length`` header, in the bytes it already holds (a body too long swallows the start of
the next frame) and in the bytes that follow (a body too short leaves its end behind).

When stdin is a pipe, as it is under every editor that starts the server, the event loop
watches it directly (``connect_read_pipe``): a message that has arrived is read with no thread
at all. Anything else (a terminal, a file, a socket shared with stdout, Windows) is read by a
daemon thread of its own, a chunk at a time (:class:`ThreadReader`): making stdin non-blocking
would also make a stdout that shares its file description non-blocking, and a large response
could then fail half-written.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import queue
import re
import stat
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

logger = logging.getLogger("drain_ls.transport")

# A header line (or a header block) longer than this is not LSP: it is skipped, not buffered.
MAX_HEADER_LINE = 1 << 16
# A body longer than this is not read: its Content-Length counts as malformed.
MAX_BODY = 1 << 27
# How much one read asks for.
CHUNK = 1 << 18

# JSON-RPC and LSP error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800

_HEADER_START = re.compile(rb"content-length", re.IGNORECASE)
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
# An absolute path (POSIX or Windows) in an error text: never sent to the client.
_PATH = re.compile(r"""(?<![\w:/\\.])(?:[A-Za-z]:[\\/]|/)[^\s'"()<>,;]+""")
_MAX_ERROR_TEXT = 300


@dataclass(frozen=True, slots=True)
class Message:
    """A frame whose body is JSON."""

    value: object


@dataclass(frozen=True, slots=True)
class Unparsable:
    """A frame whose body is not JSON: answered with a parse error (id null)."""

    problem: str


class FrameParser:
    """Splits the client's byte stream into LSP frames (sans I/O: ``feed`` it bytes).

    Header names are case-insensitive and lines may end in LF or CRLF; headers other than
    ``Content-Length`` are ignored, blank lines between frames skipped. Anything else that is
    malformed is logged once and skipped up to the next ``Content-Length`` header, wherever it
    is: the parser rescans the bytes of a rejected header line from its second byte, those of
    a rejected body from its first (a frame sent without its body is followed by the next).
    """

    def __init__(self) -> None:
        """A parser at the start of the stream."""
        self._buffer = bytearray()
        self._pos = 0  # where parsing resumes in the buffer
        self._scanning = False  # looking for the next Content-Length header
        self._length: int | None = None  # the Content-Length of the header block being read
        self._in_body = False
        self._block_bytes = 0
        self._block_lines = 0
        self._lost = False  # since the last malformed frame: log it once
        self.malformed = 0  # how many problems were found (for tests)

    def feed(self, data: bytes) -> list[Message | Unparsable]:
        """The frames completed by ``data`` (the next bytes of the stream)."""
        self._buffer += data
        events: list[Message | Unparsable] = []
        while True:
            if self._scanning:
                if not self._scan():
                    break
            elif self._in_body:
                event = self._body()
                if event is None:
                    break
                events.append(event)
            elif not self._header():
                break
        if self._pos:
            del self._buffer[: self._pos]
            self._pos = 0
        return events

    @property
    def buffered(self) -> int:
        """How many bytes the parser holds (bounded but for a body being read)."""
        return len(self._buffer)

    def end(self) -> None:
        """The stream has ended: say so if it ended inside a message."""
        if self._in_body or (not self._scanning and bytes(self._buffer[self._pos :]).strip()):
            logger.warning("the client's input ended inside a message")

    def _scan(self) -> bool:
        found = _HEADER_START.search(self._buffer, self._pos)
        if found is None:  # keep what could be the start of the header name
            self._pos = max(self._pos, len(self._buffer) - len(b"content-length") + 1)
            return False
        self._pos = found.start()
        self._scanning = False
        self._new_block()
        return True

    def _header(self) -> bool:
        buffer, start = self._buffer, self._pos
        newline = buffer.find(b"\n", start, start + MAX_HEADER_LINE + 1)
        if newline < 0:
            if len(buffer) - start > MAX_HEADER_LINE:
                self._malformed("a header line longer than 64 KiB", start + 1)
                return True
            return False
        line = bytes(buffer[start:newline]).strip()
        self._pos = newline + 1
        if not line:
            if self._block_lines == 0:
                return True  # a blank line between frames
            if self._length is None:
                self._malformed("headers without a Content-Length", self._pos)
                return True
            self._in_body = True
            self._lost = False
            return True
        self._block_lines += 1
        self._block_bytes += len(line)
        if self._block_bytes > MAX_HEADER_LINE:
            self._malformed("headers longer than 64 KiB", start + 1)
            return True
        name, colon, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if not colon or _TOKEN.fullmatch(name) is None:
            self._malformed("a header line that is not `Name: value`", start + 1)
        elif name == b"content-length":
            if not value.isdigit() or len(value) > 12 or int(value) > MAX_BODY:
                self._malformed(f"Content-Length {_printable(value)}", start + 1)
            else:
                self._length = int(value)
        elif b"content-length" in name or b"content-length" in value.lower():
            self._malformed("a header line that is not `Name: value`", start + 1)
        return True

    def _body(self) -> Message | Unparsable | None:
        assert self._length is not None
        start, end = self._pos, self._pos + self._length
        if len(self._buffer) < end:
            return None
        body = bytes(self._buffer[start:end])
        try:
            value = json.loads(body)
        except (ValueError, RecursionError):
            problem = "a body that is not JSON (is its Content-Length right?)"
            self._malformed(problem, start)  # the body may be the next frame's header
            return Unparsable(problem)
        self._pos = end
        self._new_block()
        return Message(value)

    def _new_block(self) -> None:
        self._in_body = False
        self._length = None
        self._block_bytes = 0
        self._block_lines = 0

    def _malformed(self, problem: str, resume: int) -> None:
        """Skip to the next ``Content-Length`` header from ``resume`` on."""
        self.malformed += 1
        if not self._lost:
            logger.warning(
                "skipped a malformed message from the client (%s): reading on from the "
                "next Content-Length header",
                problem,
            )
        self._lost = True
        self._scanning = True
        self._pos = resume
        self._new_block()


def _printable(value: bytes) -> str:
    text = value[:20].decode("ascii", "replace")
    return repr(text + ("…" if len(value) > 20 else ""))


# -- reading the input ---------------------------------------------------------------------


class ChunkReader(Protocol):
    """Where the client's bytes come from."""

    async def read(self) -> bytes:
        """The next bytes that have arrived (at least one); ``b""`` at the end."""
        ...


class PipeReader:
    """A pipe on stdin, read by the event loop itself."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        """Read from ``stream``, already connected to the pipe."""
        self.stream = stream

    async def read(self) -> bytes:
        """The bytes that have arrived (waiting for some); ``b""`` at the end of the input."""
        return await self.stream.read(CHUNK)


class ThreadReader:
    """Any other stdin (a file, a socket, a terminal), read by a daemon thread of its own.

    Not the server's thread pool: a read that blocks (the client keeps a socket open after
    ``exit``) would hold up its shutdown. The thread reads the file descriptor itself, not
    the ``BufferedReader`` (whose lock a daemon thread must not hold when Python exits), one
    chunk for each ``read``.
    """

    def __init__(self, stdin: BinaryIO) -> None:
        """Read ``stdin``."""
        self._read: Callable[[int], bytes]
        try:
            self._read = functools.partial(os.read, stdin.fileno())
        except (AttributeError, OSError, ValueError):
            self._read = getattr(stdin, "read1", stdin.read)
        self._wanted: queue.SimpleQueue[tuple[asyncio.AbstractEventLoop, asyncio.Future[bytes]]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None

    async def read(self) -> bytes:
        """The bytes one read returns; ``b""`` at the end of the input."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stdin", daemon=True)
            self._thread.start()
        self._wanted.put((loop, future))
        return await future

    def _run(self) -> None:
        while True:
            loop, future = self._wanted.get()
            error: BaseException | None = None
            try:
                data = self._read(CHUNK) or b""
            except Exception as exc:
                data, error = b"", exc
            try:
                loop.call_soon_threadsafe(_settle, future, data, error)
            except RuntimeError:  # the loop is closed: the server has ended
                return
            if not data:
                return


def _settle(future: asyncio.Future[bytes], data: bytes, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(data)


def is_own_pipe(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """Whether ``stdin`` is a pipe that shares nothing with ``stdout`` (POSIX only)."""
    if os.name != "posix":
        return False
    try:
        fd_in = stdin.fileno()
        info = os.fstat(fd_in)
        out = os.fstat(stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    if not stat.S_ISFIFO(info.st_mode):
        return False
    return (info.st_dev, info.st_ino) != (out.st_dev, out.st_ino)


async def pipe_reader(stdin: BinaryIO) -> PipeReader | None:
    """A reader of ``stdin`` on the running loop, or None when the loop cannot watch it."""
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=CHUNK, loop=loop)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
    except (OSError, ValueError, NotImplementedError):
        return None
    return PipeReader(stream)


class Receiver(Protocol):
    """What handles the messages read (the server's protocol)."""

    def receive_json(self, value: object) -> None:
        """Handle one message: the JSON value of a frame's body."""

    def reply_parse_error(self) -> None:
        """Answer a frame whose body is not JSON."""


async def serve(reader: ChunkReader, receiver: Receiver, stop: threading.Event) -> None:
    """Hand the client's messages to ``receiver`` until the input ends or ``stop`` is set."""
    parser = FrameParser()
    while not stop.is_set():
        try:
            data = await reader.read()
        except OSError as exc:
            logger.error("cannot read the client's input: %s", plain_text(str(exc)))
            return
        if not data:
            parser.end()
            return
        for event in parser.feed(data):
            try:
                if isinstance(event, Unparsable):
                    receiver.reply_parse_error()
                else:
                    receiver.receive_json(event.value)
            except BrokenPipeError:
                raise
            except Exception as exc:
                logger.error("could not handle a message: %s", describe(exc))
                logger.debug("%s", "".join(traceback.format_exception(exc)))


# -- JSON-RPC messages that cannot be handled ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Rejected:
    """A message that cannot be handled, with the error that says why.

    ``answer``: whether it gets an error response (with ``request_id``, null if unknown);
    ``response_to``: the id of a request of the server's that the message answers.
    """

    code: int
    message: str
    method: str | None = None
    request_id: int | str | None = None
    answer: bool = False
    response_to: int | str | None = None


def is_id(value: object) -> bool:
    """Whether ``value`` is an LSP message id (an integer or a string)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def check_envelope(data: object) -> Rejected | None:
    """Why ``data`` is not a JSON-RPC 2.0 request, notification or response (None if it is).

    Per JSON-RPC, what is not a valid message is answered with Invalid Request, with the
    message's id if it has a valid one, else with id null.
    """
    if not isinstance(data, dict):
        return Rejected(INVALID_REQUEST, "A message must be a JSON object", answer=True)
    msg_id = data.get("id")
    known_id = msg_id if is_id(msg_id) else None
    if "method" in data:
        method = data["method"]
        if not isinstance(method, str):
            return Rejected(
                INVALID_REQUEST, "method must be a string", request_id=known_id, answer=True
            )
        if "id" in data and known_id is None:
            return Rejected(
                INVALID_REQUEST, "id must be an integer or a string", method=method, answer=True
            )
        if data.get("jsonrpc") != "2.0":
            return Rejected(
                INVALID_REQUEST,
                'jsonrpc must be "2.0"',
                method=method,
                request_id=known_id,
                answer="id" in data,
            )
        return None
    if known_id is None or data.get("jsonrpc") != "2.0" or ("result" in data) == ("error" in data):
        return Rejected(
            INVALID_REQUEST,
            "Neither a request, a notification nor a response",
            request_id=known_id,
            answer=True,
        )
    return None


def plain_text(text: str) -> str:
    """``text`` fit for an error message to the client: its first line, without paths."""
    first = text.strip().split("\n", 1)[0].strip()
    first = _PATH.sub("<path>", first)
    if len(first) > _MAX_ERROR_TEXT:
        first = first[: _MAX_ERROR_TEXT - 1] + "…"
    return first


def describe(exc: BaseException) -> str:
    """An exception in one plain line: its type, and its message without paths."""
    text = plain_text(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def params_problem(exc: BaseException) -> str:
    """What is wrong with params that do not deserialise (cattrs's summary, without values)."""
    try:
        import cattrs

        lines = cattrs.transform_error(exc, path="$")
    except Exception:
        lines = []
    if not lines:
        return "Invalid params"
    shown = "; ".join(plain_text(line) for line in lines[:3])
    more = f" (and {len(lines) - 3} more)" if len(lines) > 3 else ""
    return plain_text(f"Invalid params: {shown}{more}")


def error_response(msg_id: Any, code: int, message: str) -> dict[str, Any]:
    """A JSON-RPC error response (``id`` null when unknown: it must be present)."""
    return {
        "jsonrpc": "2.0",
        "id": msg_id if is_id(msg_id) else None,
        "error": {"code": code, "message": message},
    }
