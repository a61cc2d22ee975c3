"""Fuzzing what a client may send: framing (header case, line ends, wrong lengths, junk between
frames, huge headers) and params (any JSON value where hover, codeAction, didOpen, didChange,
executeCommand and others expect theirs).

One real server process serves every example; after each, a ``drain.status`` request must
still be answered, and no error may carry a traceback. The examples are fixed
(``derandomize``): CI never draws a new one. To explore, run with ``--hypothesis-seed`` and
``derandomize`` off.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.test_untrusted_protocol import (
    TRACEBACK,
    RawServer,
    frame,
    notification,
    request,
    status,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="raw pipes: POSIX only")


def fixed(examples: int, shrink: bool = True) -> settings:
    """``examples`` examples, the same in every run (no database, no new draws). The examples
    run on one server are not shrunk: once it is deaf, every later example fails."""
    return settings(
        derandomize=True,
        database=None,
        deadline=None,
        max_examples=examples,
        phases=[Phase.explicit, Phase.generate, *([Phase.shrink] if shrink else [])],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


LONGEST_BODY = 1 << 27  # drain_ls.lsp.transport.MAX_BODY: a longer Content-Length is malformed
TEXT = "import os\n\n\ndef f(a):\n    return a\n\n\nclass C:\n    def m(self):\n        pass\n"


class Session:
    """The one server of this module, with the document every example may touch."""

    def __init__(self, raw: RawServer, root: Path) -> None:
        self.raw = raw
        self.uri = (root / "m.py").as_uri()

        self.deaf: str | None = None  # what made it stop answering: later examples fail fast

    def alive(self) -> None:
        """Fail at once if an earlier example left the server deaf."""
        assert self.deaf is None, f"the server stopped answering after {self.deaf}"

    def probe(self, example: object) -> None:
        """The server still answers after ``example``; nothing it sent has a traceback."""
        msg_id = f"probe-{self.raw.next_id()}"
        try:
            self.raw.send(status(msg_id))
            answer = self.raw.response(msg_id, timeout=10)
        except (AssertionError, OSError):
            self.deaf = repr(example)[:300]
            raise
        assert "result" in answer, answer
        answers = [*self.raw.responses.values(), *self.raw.anonymous]
        for other in answers:
            if "error" in other:
                assert TRACEBACK.search(other["error"]["message"]) is None, other
                assert other["error"].get("data") is None, other
        # Forget what the examples were answered: the next example starts afresh.
        self.raw.responses.clear()
        self.raw.anonymous.clear()
        self.raw.notifications.clear()


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("fuzz")
    raw = RawServer(root / "home")
    try:
        raw.initialize(root)
        fuzz = Session(raw, root)
        raw.send(
            notification(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": fuzz.uri,
                        "languageId": "python",
                        "version": 1,
                        "text": TEXT,
                    }
                },
            )
        )
        fuzz.probe("opening the document")
        yield fuzz
        # After every example: a clean end.
        last = raw.next_id()
        raw.send(request(last, "shutdown"))
        assert raw.response(last)["result"] is None
        raw.send(notification("exit"))
        assert raw.wait() == 0
    finally:
        raw.close()


# -- framing ---------------------------------------------------------------------------------

JUNK = st.one_of(
    st.binary(max_size=40),
    st.lists(
        st.sampled_from(
            [
                *[b"Content-Length", b"content-length", b": ", b":", b"\r\n", b"\n", b"\r"],
                *[b"{", b"}", b"\x00", b" ", b"Content-Type: x", b'"', b"\xff", b"\r\n\r\n"],
            ]
        ),
        max_size=8,
    ).map(b"".join),
)


@st.composite
def framings(draw: st.DrawFn) -> tuple[bytes, int]:
    """One frame, well formed or not, with junk around it; and how many bytes its declared
    length still asks for (sent after it, so that the next frame is not swallowed whole)."""
    message = request(
        draw(st.integers(1, 99)), "workspace/executeCommand", {"command": "drain.status"}
    )
    body = draw(
        st.one_of(
            st.just(json.dumps(message).encode()),
            st.binary(max_size=60),
            st.just(b"[" * 3000),
        )
    )
    name = "".join(
        c.upper() if up else c.lower()
        for c, up in zip(
            "content-length", draw(st.lists(st.booleans(), min_size=14, max_size=14)), strict=True
        )
    ).encode()
    eol = draw(st.sampled_from([b"\r\n", b"\n"]))
    delta = draw(st.one_of(st.just(0), st.integers(-20, 40)))
    length = max(0, len(body) + delta)
    value = draw(
        st.one_of(
            st.just(b"%d" % length),
            st.sampled_from([b"-3", b"", b"abc", b"1e3", b"99999999999999999999", b"0x10"]),
        )
    )
    headers = [name + draw(st.sampled_from([b": ", b":", b" : ", b":\t"])) + value]
    if draw(st.booleans()):
        headers.insert(draw(st.integers(0, 1)), b"Content-Type: application/vscode-jsonrpc")
    if draw(st.integers(0, 9)) == 0:  # a header line over 64 KiB
        headers.insert(0, b"X-Huge: " + b"a" * 70_000)
    data = (
        draw(JUNK)
        + b"".join(h + eol for h in headers)
        + eol
        + body
        + draw(JUNK)
        + (b"" if draw(st.booleans()) else eol)
    )
    owed = 0
    if value.isdigit() and int(value) <= LONGEST_BODY:
        owed = max(0, int(value) - len(body))
    return data, owed


@fixed(400, shrink=False)
@given(framing=framings())
def test_any_framing_leaves_the_server_answering(
    session: Session, framing: tuple[bytes, int]
) -> None:
    session.alive()
    data, owed = framing
    session.raw.send_raw(data + b" " * owed)
    session.probe(framing)


@fixed(400)
@given(
    frames=st.lists(st.tuples(framings(), st.integers(1, 4096)), min_size=1, max_size=4),
)
def test_the_parser_never_loses_a_frame_that_follows_the_bytes_a_length_asked_for(
    frames: list[tuple[tuple[bytes, int], int]],
) -> None:
    """In process and fast: the same framings, cut anywhere, a valid frame after each."""
    from drain_ls.lsp.transport import MAX_BODY, FrameParser, Message

    assert MAX_BODY == LONGEST_BODY
    parser = FrameParser()
    values: list[object] = []
    for (data, owed), cut in frames:
        stream = data + b" " * owed + frame({"jsonrpc": "2.0", "method": "probe"})
        for start in range(0, len(stream), cut):
            values += [
                e.value for e in parser.feed(stream[start : start + cut]) if isinstance(e, Message)
            ]
        assert values and values[-1] == {"jsonrpc": "2.0", "method": "probe"}
        assert parser.buffered < 2 * 65536


# -- params ----------------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
INTEGERS = st.one_of(
    st.integers(0, 12),
    st.sampled_from([-1, 2**31 - 1, 2**31, 2**32, 2**40, -(2**63), 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.text(max_size=3),
)


def is_id(value: object) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def uris(session: Session) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.just(session.uri),
        st.just("file:///nowhere/x.py"),
        st.sampled_from(["", "untitled:Untitled-1", "file://", "not a uri", "file:///%00"]),
        JSON,
    )


def positions(session: Session) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"line": INTEGERS, "character": INTEGERS}),
        JSON,
    )


def ranges(session: Session) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"start": positions(session), "end": positions(session)}),
        JSON,
    )


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``strategy``, or any JSON value in its place."""
    return st.one_of(strategy, JSON)


@st.composite
def messages(draw: st.DrawFn, session: Session) -> tuple[str, object, bool]:
    """A method, params for it (near valid or anything), and whether it is a request."""
    document = st.fixed_dictionaries({"uri": uris(session)})
    versioned = st.fixed_dictionaries({"uri": uris(session), "version": INTEGERS})
    choices: dict[str, tuple[st.SearchStrategy[Any], bool]] = {
        "textDocument/hover": (
            st.fixed_dictionaries({"textDocument": document, "position": positions(session)}),
            True,
        ),
        "textDocument/codeAction": (
            st.fixed_dictionaries(
                {
                    "textDocument": document,
                    "range": ranges(session),
                    "context": maybe(
                        st.fixed_dictionaries(
                            {"diagnostics": maybe(st.lists(JSON, max_size=2))},
                            optional={"only": maybe(st.lists(st.text(max_size=8), max_size=2))},
                        )
                    ),
                }
            ),
            True,
        ),
        "textDocument/diagnostic": (st.fixed_dictionaries({"textDocument": document}), True),
        "codeAction/resolve": (
            st.fixed_dictionaries(
                {"title": maybe(st.text(max_size=5))},
                optional={
                    "data": maybe(
                        st.fixed_dictionaries(
                            {"action": st.just("fixAll"), "uri": uris(session), "version": INTEGERS}
                        )
                    )
                },
            ),
            True,
        ),
        "workspace/executeCommand": (
            st.fixed_dictionaries(
                {
                    "command": maybe(
                        st.sampled_from(
                            [
                                "drain.status",
                                "drain.preview",
                                "drain.dismiss",
                                "drain.report",
                                "nope",
                            ]
                        )
                    )
                },
                optional={"arguments": maybe(st.lists(st.one_of(uris(session), JSON), max_size=3))},
            ),
            True,
        ),
        "textDocument/didOpen": (
            st.fixed_dictionaries(
                {
                    "textDocument": st.fixed_dictionaries(
                        {
                            "uri": uris(session),
                            "languageId": maybe(st.just("python")),
                            "version": INTEGERS,
                            "text": maybe(st.text(max_size=80)),
                        }
                    )
                }
            ),
            False,
        ),
        "textDocument/didChange": (
            st.fixed_dictionaries(
                {
                    "textDocument": versioned,
                    "contentChanges": maybe(
                        st.lists(
                            st.one_of(
                                st.fixed_dictionaries(
                                    {"range": ranges(session), "text": maybe(st.text(max_size=20))}
                                ),
                                st.fixed_dictionaries({"text": maybe(st.text(max_size=40))}),
                                JSON,
                            ),
                            max_size=3,
                        )
                    ),
                }
            ),
            False,
        ),
        "textDocument/didClose": (st.fixed_dictionaries({"textDocument": document}), False),
        "textDocument/didSave": (st.fixed_dictionaries({"textDocument": document}), False),
        "$/cancelRequest": (st.fixed_dictionaries({"id": JSON}), False),
    }
    method = draw(st.sampled_from(sorted(choices)))
    strategy, is_request = choices[method]
    params = draw(maybe(strategy))
    return method, params, draw(st.booleans()) if draw(st.integers(0, 9)) == 0 else is_request


@fixed(800, shrink=False)
@given(data=st.data())
def test_any_params_get_an_answer_or_are_dropped(session: Session, data: st.DataObject) -> None:
    method, params, is_request = data.draw(messages(session))
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if not data.draw(st.integers(0, 9)):
        del message["params"]
    session.alive()  # after the draws: Hypothesis replays a failing example whole
    if is_request:
        msg_id = session.raw.next_id()
        session.raw.send({**message, "id": msg_id})
        try:
            answer = session.raw.response(msg_id, timeout=10)
        except AssertionError:
            session.deaf = repr(message)[:300]
            raise
        if "error" in answer:
            assert answer["error"]["code"] in {-32602, -32603, -32600, -32601}, answer
            assert TRACEBACK.search(answer["error"]["message"]) is None, answer
    else:
        session.raw.send(message)
    session.probe(message)


@fixed(300, shrink=False)
@given(
    message=st.one_of(
        JSON,
        st.fixed_dictionaries(
            {},
            optional={
                "jsonrpc": st.one_of(st.just("2.0"), JSON),
                "id": JSON,
                "method": st.one_of(
                    st.sampled_from(["textDocument/hover", "initialize", "$/x"]), JSON
                ),
                "params": JSON,
                "result": JSON,
                "error": JSON,
            },
        ),
    )
)
def test_any_json_message_leaves_the_server_answering(session: Session, message: Any) -> None:
    if isinstance(message, dict) and message.get("method") in ("exit", "shutdown"):
        return
    session.alive()
    session.raw.send(message)
    if isinstance(message, dict) and "method" in message and is_id(message.get("id")):
        answer = session.raw.response(message["id"], timeout=10)  # a request: answered
        assert ("result" in answer) != ("error" in answer), answer
    session.probe(message)
