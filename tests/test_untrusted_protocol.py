"""What an untrusted client may send a real server process over stdio, byte by byte: malformed
frames (the server answers or skips them, and reads on from the next ``Content-Length``),
params that do not deserialise (InvalidParams, in a plain message), and messages out of the
lifecycle's order (ServerNotInitialized before ``initialize``, InvalidRequest after ``shutdown``).

``RawServer`` is also the fuzzer's client (``test_protocol_fuzz.py``)."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="raw pipes and sockets: POSIX only")

# How long a test waits for an answer that should come at once (the server runs on 2 busy
# cores in CI): only a server that went deaf ever makes a test wait this long.
TIMEOUT = 20.0

# What an error message must never carry.
TRACEBACK = re.compile(r"Traceback|File \"|\.py\b|site-packages")


def frame(message: object, *, header: bytes = b"Content-Length", eol: bytes = b"\r\n") -> bytes:
    """``message`` as an LSP frame (the header name and line ends as given)."""
    body = json.dumps(message).encode()
    return header + b": %d" % len(body) + eol + eol + body


def request(msg_id: int | str, method: str, params: object = None) -> dict[str, Any]:
    """A JSON-RPC request (``params`` left out when None)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": msg_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: object = None) -> dict[str, Any]:
    """A JSON-RPC notification (``params`` left out when None)."""
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def status(msg_id: int | str) -> dict[str, Any]:
    """A ``drain.status`` request: answered whatever the server holds."""
    return request(msg_id, "workspace/executeCommand", {"command": "drain.status"})


def read_frames(data: bytes) -> list[dict[str, Any]]:
    """Every message in ``data`` (the server's output: well formed)."""
    messages = []
    while data:
        header, _, rest = data.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
        length = int(fields[b"Content-Length"])
        messages.append(json.loads(rest[:length]))
        data = rest[length:]
    return messages


class RawServer:
    """``python -m drain_ls --stdio`` with stdin a pipe (or a socket), stdout read by a thread."""

    def __init__(self, home: Path, stdin: str = "pipe") -> None:
        """Start the server; ``stdin`` is ``"pipe"`` or ``"socket"``."""
        self._ids = itertools.count(1000)
        self.messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.responses: dict[object, dict[str, Any]] = {}
        self.anonymous: list[dict[str, Any]] = []  # responses with id null
        self.notifications: list[dict[str, Any]] = []
        self._socket: socket.socket | None = None
        child: Any = subprocess.PIPE
        if stdin == "socket":
            self._socket, child = socket.socketpair()
        home.mkdir(parents=True, exist_ok=True)
        self.stderr = home / "stderr.txt"  # the server's, for when a test fails
        with open(self.stderr, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "drain_ls", "--stdio"],
                stdin=child,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env={**os.environ, "DRAIN_LS_HOME": str(home), "PYTHONFAULTHANDLER": "1"},
            )
        if self._socket is not None:
            child.close()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        buffer = b""
        while True:
            chunk = stdout.read1(65536)
            if not chunk:
                self.messages.put(None)
                return
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                header, _, rest = buffer.partition(b"\r\n\r\n")
                fields = dict(line.split(b": ", 1) for line in header.split(b"\r\n"))
                length = int(fields[b"Content-Length"])
                if len(rest) < length:
                    break
                self.messages.put(json.loads(rest[:length]))
                buffer = rest[length:]

    def send_raw(self, data: bytes) -> None:
        """Write ``data`` as it is."""
        if self._socket is not None:
            self._socket.sendall(data)
            return
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(data)
        stdin.flush()

    def send(self, message: object) -> None:
        """Send ``message`` in a well-formed frame."""
        self.send_raw(frame(message))

    def next_id(self) -> int:
        """A request id not used yet."""
        return next(self._ids)

    def _pump(self, deadline: float) -> bool:
        """File the next message the server sends; False when it has ended."""
        try:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError("the server did not answer in time") from None
        if message is None:
            self.messages.put(None)
            return False
        if "method" in message:
            self.notifications.append(message)
        elif message.get("id") is None:
            self.anonymous.append(message)
        else:
            self.responses[message["id"]] = message
        return True

    def response(self, msg_id: object, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The server's answer to request ``msg_id``."""
        deadline = time.monotonic() + timeout
        while msg_id not in self.responses:
            if not self._pump(deadline):
                raise AssertionError(f"the server ended without answering {msg_id!r}")
        return self.responses.pop(msg_id)

    def anonymous_response(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next response with id null (to a message whose id could not be read)."""
        deadline = time.monotonic() + timeout
        while not self.anonymous:
            if not self._pump(deadline):
                raise AssertionError("the server ended without answering")
        return self.anonymous.pop(0)

    def call(self, method: str, params: object = None) -> dict[str, Any]:
        """Send a request and wait for its answer."""
        msg_id = self.next_id()
        self.send(request(msg_id, method, params))
        return self.response(msg_id)

    def initialize(self, root: Path | None = None) -> None:
        """``initialize`` (no client capabilities) then ``initialized``."""
        params: dict[str, Any] = {"capabilities": {}, "processId": None}
        if root is not None:
            params["rootUri"] = root.as_uri()
        answer = self.call("initialize", params)
        assert "result" in answer, answer
        self.send(notification("initialized", {}))

    def statuses_answered(self, count: int = 10) -> None:
        """Send ``count`` ``drain.status`` requests at once: each gets its result."""
        ids = [self.next_id() for _ in range(count)]
        self.send_raw(b"".join(frame(status(i)) for i in ids))
        for msg_id in ids:
            answer = self.response(msg_id)
            assert "result" in answer, answer

    def logged(self, text: str) -> list[str]:
        """The log messages (``window/logMessage``) received so far that contain ``text``."""
        while not self.messages.empty():
            if not self._pump(time.monotonic()):
                break
        return [
            m["params"]["message"]
            for m in self.notifications
            if m["method"] == "window/logMessage" and text in m["params"]["message"]
        ]

    def wait(self, timeout: float = TIMEOUT) -> int:
        """The exit status, once the server has ended."""
        return self.process.wait(timeout=timeout)

    def close(self) -> None:
        """End the process, however it is doing."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=TIMEOUT)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        if self._socket is not None:
            self._socket.close()


def assert_plain_error(answer: dict[str, Any], code: int) -> str:
    """``answer`` is an error with ``code``, a plain message and no ``data``; its message."""
    assert "error" in answer, answer
    error = answer["error"]
    assert error["code"] == code, answer
    assert error.get("data") is None, answer
    message = error["message"]
    assert isinstance(message, str) and message, answer
    assert TRACEBACK.search(message) is None, answer
    return message


# -- framing -------------------------------------------------------------------------------

BODY = json.dumps(status(1)).encode()
HUGE = b"a" * (70 * 1024)
MALFORMED = "skipped a malformed message"

# What each frame is, and what becomes of its request (id 1): "answered" (a header the
# server must tolerate), "parse error" (answered with -32700, id null), or "skipped".
FRAMES: dict[str, tuple[bytes, str]] = {
    "content-length-short": (b"Content-Length: %d\r\n\r\n" % (len(BODY) - 3) + BODY, "parse error"),
    "content-length-long": (b"Content-Length: %d\r\n\r\n" % (len(BODY) + 5) + BODY, "parse error"),
    "lf-only": (b"Content-Length: %d\n\n" % len(BODY) + BODY, "answered"),
    "lower-case": (b"content-length: %d\r\n\r\n" % len(BODY) + BODY, "answered"),
    "upper-case-and-content-type": (
        b"CONTENT-LENGTH:%d\r\ncontent-type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n"
        % len(BODY)
        + BODY,
        "answered",
    ),
    "header-line-over-64k": (b"X-Padding: " + HUGE + b"\r\n", "skipped"),
    "header-line-over-64k-then-frame": (HUGE + frame(status(1)), "answered"),
    "junk-between-frames": (b"\x00\xff garbage }{\r\n\r\n", "skipped"),
    "body-not-json": (b"Content-Length: 9\r\n\r\n{not json", "parse error"),
    "no-content-length": (b"Content-Type: text/plain\r\n\r\n{}", "skipped"),
    "content-length-negative": (b"Content-Length: -5\r\n\r\n{}", "skipped"),
    "content-length-huge": (b"Content-Length: 99999999999999999999\r\n\r\n{}", "skipped"),
    "content-length-not-a-number": (b"Content-Length: 12abc\r\n\r\n{}", "skipped"),
}
TOLERATED = {"lf-only", "lower-case", "upper-case-and-content-type"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RawServer]:
    """A server on a pipe, initialized."""
    raw = RawServer(tmp_path / "home")
    try:
        raw.initialize(tmp_path)
        yield raw
    finally:
        raw.close()


def check_frame(raw: RawServer, case: str) -> None:
    data, outcome = FRAMES[case]
    raw.send_raw(data)
    if outcome == "answered":
        assert "result" in raw.response(1)
    raw.statuses_answered(10)
    if outcome == "parse error":
        answer = raw.anonymous_response()
        assert_plain_error(answer, -32700)
        assert answer["id"] is None and "id" in answer
    logs = raw.logged(MALFORMED)
    assert len(logs) == (0 if case in TOLERATED else 1), logs
    assert all(TRACEBACK.search(log) is None for log in logs), logs
    assert raw.process.poll() is None


@pytest.mark.parametrize("case", sorted(FRAMES))
def test_a_malformed_frame_is_answered_or_skipped_and_the_next_ten_are_answered(
    server: RawServer, case: str
) -> None:
    check_frame(server, case)


def test_every_malformed_frame_in_a_row_on_one_server(server: RawServer) -> None:
    for case in sorted(FRAMES):
        check_frame(server, case)
        server.notifications.clear()


@pytest.mark.parametrize(
    "case", ["content-length-short", "header-line-over-64k", "lf-only", "lower-case"]
)
def test_a_socket_on_stdin_is_read_the_same_way(tmp_path: Path, case: str) -> None:
    """stdin a socket (not a pipe): read by a worker thread, framed the same way."""
    raw = RawServer(tmp_path / "home", stdin="socket")
    try:
        raw.initialize(tmp_path)
        check_frame(raw, case)
        raw.send(request(2, "shutdown"))
        assert raw.response(2) == {"jsonrpc": "2.0", "id": 2, "result": None}
        raw.send(notification("exit"))
        assert raw.wait() == 0
    finally:
        raw.close()


@pytest.mark.parametrize("case", ["content-length-short", "header-line-over-64k", "lf-only"])
def test_a_file_on_stdin_is_read_the_same_way(tmp_path: Path, case: str) -> None:
    """stdin a regular file: the whole session at once, the malformed frame in the middle."""
    ids = list(range(10, 20))
    script = tmp_path / "session.bin"
    script.write_bytes(
        frame(request(0, "initialize", {"capabilities": {}}))
        + frame(notification("initialized", {}))
        + FRAMES[case][0]
        + b"".join(frame(status(i)) for i in ids)
        + frame(request(2, "shutdown"))
        + frame(notification("exit"))
    )
    with open(script, "rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "drain_ls", "--stdio"],
            stdin=stdin,
            capture_output=True,
            env={**os.environ, "DRAIN_LS_HOME": str(tmp_path / "home")},
            timeout=60,
        )
    assert done.returncode == 0
    answers = {m.get("id"): m for m in read_frames(done.stdout) if "method" not in m}
    assert all("result" in answers[i] for i in [0, 2, *ids]), answers
    if FRAMES[case][1] == "parse error":
        assert answers[None]["error"]["code"] == -32700
    elif FRAMES[case][1] == "answered":
        assert "result" in answers[1]


# -- params that do not deserialise, and handlers that fail ---------------------------------


def _document(raw: RawServer, tmp_path: Path) -> str:
    uri = (tmp_path / "m.py").as_uri()
    raw.send(
        notification(
            "textDocument/didOpen",
            {
                "textDocument": {
                    "uri": uri,
                    "languageId": "python",
                    "version": 1,
                    "text": "import os\n\n\ndef f(a):\n    return a\n",
                }
            },
        )
    )
    return uri


URI = "<uri>"  # replaced by the open document's
INVALID_PARAMS = [
    (
        "textDocument/hover",
        {"textDocument": {"uri": URI}, "position": {"line": -1, "character": 0}},
    ),
    (
        "textDocument/hover",
        {"textDocument": {"uri": URI}, "position": {"line": 2**40, "character": 0}},
    ),
    (
        "textDocument/hover",
        {"textDocument": {"uri": URI}, "position": {"line": 0, "character": "x"}},
    ),
    ("textDocument/hover", None),
    ("textDocument/hover", [1, 2]),
    ("textDocument/hover", "hover"),
    ("textDocument/hover", {"textDocument": {"uri": URI}}),
    (
        "textDocument/codeAction",
        {"textDocument": {"uri": URI}, "range": None, "context": {"diagnostics": []}},
    ),
    ("textDocument/codeAction", None),
    (
        "textDocument/codeAction",
        {
            "textDocument": {"uri": URI},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": -3, "character": 0}},
            "context": {"diagnostics": []},
        },
    ),
    ("workspace/executeCommand", {"command": 5}),
    ("workspace/executeCommand", None),
    ("textDocument/diagnostic", {"textDocument": None}),
    ("codeAction/resolve", None),
]


def _with_uri(value: object, uri: str) -> object:
    if value == URI:
        return uri
    if isinstance(value, dict):
        return {k: _with_uri(v, uri) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_uri(v, uri) for v in value]
    return value


@pytest.mark.parametrize(("method", "params"), INVALID_PARAMS)
def test_params_that_do_not_deserialise_get_invalid_params_in_plain_words(
    server: RawServer, tmp_path: Path, method: str, params: object
) -> None:
    uri = _document(server, tmp_path)
    server.send({"jsonrpc": "2.0", "id": 7, "method": method, "params": _with_uri(params, uri)})
    message = assert_plain_error(server.response(7), -32602)
    assert "/" not in message, message  # no path, no method name: what is wrong, plainly
    assert message.lower().startswith("invalid params"), message
    server.statuses_answered(10)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("textDocument/didOpen", None),
        ("textDocument/didOpen", {"textDocument": {"uri": 5}}),
        (
            "textDocument/didChange",
            {
                "textDocument": {"uri": URI, "version": 2},
                "contentChanges": [{"range": None, "text": "x"}],
            },
        ),
        ("textDocument/didClose", []),
        ("$/cancelRequest", {"id": {"a": 1}}),
    ],
)
def test_notifications_that_do_not_deserialise_are_dropped_and_logged(
    server: RawServer, tmp_path: Path, method: str, params: object
) -> None:
    uri = _document(server, tmp_path)
    server.send({"jsonrpc": "2.0", "method": method, "params": _with_uri(params, uri)})
    server.statuses_answered(10)
    assert server.logged(f"ignored {method}: Invalid params")


def test_a_failing_handler_answers_an_internal_error_without_its_traceback(
    server: RawServer,
) -> None:
    answer = server.call("workspace/executeCommand", {"command": "drain.dismiss", "arguments": [1]})
    message = assert_plain_error(answer, -32603)
    assert "drain.dismiss needs" in message
    server.statuses_answered(10)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ([1, 2], -32600),
        ("just a string", -32600),
        ({"jsonrpc": "1.0", "id": 7, "method": "shutdown"}, -32600),
        ({"jsonrpc": "2.0", "id": 7, "method": 5}, -32600),
        ({"jsonrpc": "2.0", "id": 7, "method": "textDocument/didSave"}, -32600),
        ({"jsonrpc": "2.0", "id": 7, "method": "no/such/method"}, -32601),
        (
            {
                "jsonrpc": "2.0",
                "id": 7,
                "method": "workspace/executeCommand",
                "params": {"command": "nope"},
            },
            -32602,
        ),
    ],
)
def test_messages_that_are_not_requests_get_an_error(
    server: RawServer, message: object, code: int
) -> None:
    server.send(message)
    has_id = isinstance(message, dict)
    answer = server.response(7) if has_id else server.anonymous_response()
    assert_plain_error(answer, code)
    server.statuses_answered(10)


# -- the lifecycle ---------------------------------------------------------------------------


def test_before_initialize_requests_get_server_not_initialized_and_notifications_are_dropped(
    tmp_path: Path,
) -> None:
    raw = RawServer(tmp_path / "home")
    try:
        uri = _document(raw, tmp_path)  # dropped
        hover = {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}
        for method, params in [
            ("textDocument/hover", hover),
            ("textDocument/hover", None),  # the lifecycle comes first
            ("workspace/executeCommand", {"command": "drain.status"}),
            ("shutdown", None),
        ]:
            assert_plain_error(raw.call(method, params), -32002)
        raw.initialize(tmp_path)
        answer = raw.call("workspace/executeCommand", {"command": "drain.status"})
        assert answer["result"]["documents"] == []
        assert_plain_error(raw.call("initialize", {"capabilities": {}}), -32600)  # only once
        raw.statuses_answered(10)
    finally:
        raw.close()


def test_after_shutdown_requests_get_invalid_request_and_exit_ends_with_status_0(
    server: RawServer, tmp_path: Path
) -> None:
    first = server.next_id()
    server.send(request(first, "shutdown"))
    assert server.response(first) == {"jsonrpc": "2.0", "id": first, "result": None}
    assert_plain_error(server.call("shutdown"), -32600)  # a second shutdown is answered
    hover = {
        "textDocument": {"uri": (tmp_path / "m.py").as_uri()},
        "position": {"line": 0, "character": 0},
    }
    assert_plain_error(server.call("textDocument/hover", hover), -32600)
    assert_plain_error(server.call("workspace/executeCommand", {"command": "drain.status"}), -32600)
    server.send(notification("exit"))
    assert server.wait() == 0


def test_exit_without_shutdown_ends_with_status_1(server: RawServer) -> None:
    server.send(notification("exit"))
    assert server.wait() == 1
