"""Reading the client's messages: framing that never goes deaf (JSON-RPC's envelope, its error
codes and plain error texts are in ``drain_ls.lsp.envelope``).

The client's bytes are split into messages here, not by pygls: pygls's reader accepts only
``Content-Length: N\\r\\n`` exactly, and one frame it cannot read (a length a few bytes short,
a header in lower case or with LF line ends, a header line over 64 KiB) leaves it misaligned
for good, or ends the server. :class:`FrameParser` reads header names in any case, LF line ends
as well as CRLF, and after anything malformed it logs the problem once and scans for the next
``Content-Length`` header, in the bytes it already holds (a body too long swallows the start of
the next frame) and in the bytes that follow (a body too short leaves its end behind).

A large body (``STREAM_BODY``, 1 MiB, and more: a big file's ``didOpen``) is decoded while it
arrives, not all at once when its last byte has: its long strings (``LONG_STRING`` and more)
are decoded a slice at a time in each read (``_LargeBody``), the rest of it once complete, so
the loop is never held long, and the message is ready moments after its last byte. Messages
still come out one at a time, in the order they were sent. Whatever that decoder cannot
follow (a body that is not UTF-8 JSON, say) is decoded whole, as any other body is.

When stdin is a pipe, as it is under every editor that starts the server, the event loop
watches it directly (``connect_read_pipe``): a message that has arrived is read with no thread
at all, and the pipe holds 1 MiB where Linux lets it, not 64 KiB (``_widen_pipe``). Anything
else (a terminal, a file, a socket shared with stdout, Windows) is read by a daemon thread of
its own, a chunk at a time (:class:`ThreadReader`): making stdin non-blocking
would also make a stdout that shares its file description non-blocking, and a large response
could then fail half-written.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import json.decoder
import logging
import os
import queue
import re
import stat
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from drain_ls.lsp.envelope import describe, plain_text

logger = logging.getLogger("drain_ls.lsp.transport")

# A header line (or a header block) longer than this is not LSP: it is skipped, not buffered.
MAX_HEADER_LINE = 1 << 16
# A body longer than this is not read: its Content-Length counts as malformed.
MAX_BODY = 1 << 27
# How much one read asks for.
CHUNK = 1 << 18
# What the stdin pipe may hold (where the system lets it: ``_widen_pipe``).
PIPE_BYTES = 1 << 20
# A body this long is decoded as it arrives, its strings this long a slice at a time.
STREAM_BODY = 1 << 20
LONG_STRING = 1 << 16

_HEADER_START = re.compile(rb"content-length", re.IGNORECASE)
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


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
        self._large: _LargeBody | None = None  # a large body being read (and decoded)
        self.malformed = 0  # how many problems were found (for tests)
        self.streamed = 0  # how many bodies were decoded as they arrived (for tests)

    def feed(self, data: bytes) -> list[Message | Unparsable]:
        """The frames completed by ``data`` (the next bytes of the stream)."""
        events: list[Message | Unparsable] = []
        if self._large is not None:
            data = self._large_body(data, events)
            if self._large is not None:
                return events
        self._buffer += data
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
        return len(self._buffer) + (self._large.received if self._large is not None else 0)

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
            if self._length >= STREAM_BODY:  # read (and decoded) as it arrives from now on
                self._large = _LargeBody(self._length, bytes(self._buffer[start:]))
                del self._buffer[start:]
            return None
        try:
            value = json.loads(self._buffer[start:end])
        except (ValueError, RecursionError):
            problem = "a body that is not JSON (is its Content-Length right?)"
            self._malformed(problem, start)  # the body may be the next frame's header
            return Unparsable(problem)
        self._pos = end
        self._new_block()
        return Message(value)

    def _large_body(self, data: bytes, events: list[Message | Unparsable]) -> bytes:
        """Hand ``data`` to the large body being read; what follows the body, once complete
        (then its message, or the parse error, is in ``events``)."""
        large = self._large
        assert large is not None
        need = large.length - large.received
        large.add(data[:need])
        if large.received < large.length:
            return b""
        self._large = None
        try:
            value = large.value()
            self.streamed += 1
        except (ValueError, RecursionError):
            body = large.whole()  # decoded whole: the same value, or the same error
            try:
                value = json.loads(body)
            except (ValueError, RecursionError):
                problem = "a body that is not JSON (is its Content-Length right?)"
                self._buffer[0:0] = body  # (nothing else is buffered while a body is read)
                self._pos = 0
                self._malformed(problem, 0)  # the body may be the next frame's header
                events.append(Unparsable(problem))
                return data[need:]
        self._new_block()
        events.append(Message(value))
        return data[need:]

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


_scanstring: Callable[[str, int, bool], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
# The content of a JSON string up to its closing quote (or to where the bytes end).
_STRING_CONTENT = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+', re.DOTALL)


class _LargeBody:
    """A large body read as it arrives (``FrameParser``), and decoded as it does.

    Its bytes are kept as they came (to be decoded whole should anything go wrong: the same
    value, or the same error, as always); only those not handled yet are copied, into a small
    working buffer. Outside strings, bytes are copied to a skeleton, and strings shorter than
    ``LONG_STRING`` too. A longer one is decoded a slice at a time by json's own string
    scanner (the same result, and the same errors) and stands in the skeleton as a placeholder
    string that no client sends (a random nonce), put back once the skeleton is decoded. A
    slice is cut only where a string cannot be split: after an ASCII byte with no backslash in
    the six bytes before it (an escape is at most six bytes, ``\\uXXXX``), so neither an
    escape, nor a surrogate pair of them, nor a UTF-8 sequence is cut in two.
    """

    def __init__(self, length: int, first: bytes) -> None:
        """A body of ``length`` bytes, of which ``first`` have arrived."""
        self.length = length
        self.received = 0
        self.chunks: list[bytes] = []  # every byte received, as received
        self.work = bytearray()  # those not handled yet
        self.work_at = 0  # the body offset of work[0]
        self.checked = False  # the first two bytes were looked at
        self.failed = False  # to be decoded whole
        self.done = 0  # body bytes handled
        self.in_string = False  # inside a long string, at ``done``
        self.skeleton = bytearray()
        self.pieces: list[str] = []  # the long string decoded so far
        self.strings: dict[str, str] = {}  # placeholder -> decoded long string
        self.nonce = os.urandom(12).hex()
        self.add(first)

    def add(self, data: bytes) -> None:
        """The next bytes of the body."""
        if not data:
            return
        self.chunks.append(data)
        self.received += len(data)
        if self.failed:
            return
        self.work += data
        if not self.checked:
            if len(self.work) < 2:
                return
            # UTF-8 JSON (as json.loads reads it): an object whose second byte is not 0.
            self.checked = True
            if self.work[0] != 0x7B or self.work[1] == 0:
                self.failed = True
                self.work = bytearray()
                return
        self._advance(complete=self.received == self.length)
        handled = self.done - self.work_at
        if handled:
            del self.work[:handled]
            self.work_at = self.done

    def whole(self) -> bytes:
        """The body's bytes."""
        return b"".join(self.chunks)

    def value(self) -> object:
        """The JSON value of the complete body (``ValueError``: to be decoded whole)."""
        if self.failed or self.in_string or self.done != self.length:
            raise ValueError("not decoded as it arrived")
        value = json.loads(self.skeleton)
        return _put_back(value, self.strings) if self.strings else value

    def _advance(self, complete: bool) -> None:
        """Handle the bytes in the working buffer (all of them, when ``complete``)."""
        buffer, base, limit = self.work, -self.work_at, len(self.work)
        while not self.failed and base + self.done < limit:
            at = base + self.done
            if not self.in_string:
                quote = buffer.find(b'"', at, limit)
                if quote < 0:
                    self.skeleton += buffer[at:limit]
                    self.done = limit - base
                    return
                self.skeleton += buffer[at:quote]
                self.done = quote - base
                window = min(limit, quote + 1 + LONG_STRING)
                close = _STRING_CONTENT.match(buffer, quote + 1, window).end()  # type: ignore[union-attr]
                if close < window and buffer[close] == 0x22:  # a short string: copied
                    self.skeleton += buffer[quote : close + 1]
                    self.done = close + 1 - base
                elif window == quote + 1 + LONG_STRING:  # a long one: decoded in slices
                    self.in_string = True
                    self.done = quote + 1 - base
                else:
                    return  # the rest of a short string is still to come
            else:
                cut = limit if complete else _safe_cut(buffer, at, limit)
                if cut - at < (1 if complete else LONG_STRING):
                    return
                try:
                    text = buffer[at:cut].decode("utf-8", "surrogatepass")
                    piece, after = _scanstring(text + '"', 0, True)
                except ValueError:
                    self.failed = True
                    return
                self.pieces.append(piece)
                if after > len(text):  # no closing quote yet
                    self.done = cut - base
                    continue
                key = f"drain-ls:{self.nonce}:{len(self.strings)}"
                self.strings[key] = "".join(self.pieces)
                self.pieces = []
                self.skeleton += json.dumps(key).encode()
                self.in_string = False
                self.done = at + len(text[:after].encode("utf-8", "surrogatepass")) - base


def _safe_cut(buffer: bytearray, begin: int, end: int) -> int:
    """Where in ``(begin, end]`` a string's content may be cut into two (-1: nowhere near
    ``end``): after an ASCII byte with no backslash in the six bytes before it."""
    cut = end
    for _ in range(64):
        if cut - 6 <= begin:
            return -1
        backslash = buffer.rfind(b"\\", cut - 6, cut)
        if backslash >= 0:
            cut = backslash
        elif buffer[cut - 1] >= 0x80:
            cut -= 1
        else:
            return cut
    return -1


def _put_back(value: object, strings: dict[str, str]) -> object:
    """``value`` with every placeholder string, a key or a value, replaced by its string."""
    if isinstance(value, str):
        return strings.get(value, value)
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if any(key in strings for key in node):  # a long key: rebuilt as json.loads would
                pairs = [(strings.get(key, key), item) for key, item in node.items()]
                node.clear()
                node.update(pairs)
            for key, item in node.items():
                if isinstance(item, str):
                    if item in strings:
                        node[key] = strings[item]
                elif isinstance(item, (dict, list)):
                    stack.append(item)
        elif isinstance(node, list):
            for i, item in enumerate(node):
                if isinstance(item, str):
                    if item in strings:
                        node[i] = strings[item]
                elif isinstance(item, (dict, list)):
                    stack.append(item)
    return value


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


def _widen_pipe(stdin: BinaryIO) -> None:
    """Let the pipe hold ``PIPE_BYTES`` (Linux; 64 KiB by default): a large message crosses
    it in fewer, larger reads, with fewer turns of both processes' loops."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    if set_size is None:
        return
    # Over /proc/sys/fs/pipe-max-size, or not a pipe: left as it is.
    with contextlib.suppress(OSError, ValueError, AttributeError):
        fcntl.fcntl(stdin.fileno(), set_size, PIPE_BYTES)


async def pipe_reader(stdin: BinaryIO) -> PipeReader | None:
    """A reader of ``stdin`` on the running loop, or None when the loop cannot watch it."""
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=CHUNK, loop=loop)
    _widen_pipe(stdin)
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
