"""Fuzzing what users type, over the wire: the edit shapes of the latency benchmark (every
opener, ``def f(``, ``from x import (``, a decorator line, random words) typed one character
per ``didChange`` and erased, at random places of a module long enough to be cut into chunks,
with a hover behind every keystroke.

One real server process serves every example (as ``test_protocol_fuzz``). After each
example: every hover was answered, the server published the last version, and what it
settles on is exactly what a fresh open of the same text gets when the text is valid (and
reports the syntax error when it is not). The examples are fixed
(``derandomize``): CI never draws a new one.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.test_protocol_fuzz import fixed
from tests.test_untrusted_protocol import RawServer, notification, request

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from gen_module import generate_module

pytestmark = pytest.mark.skipif(os.name != "posix", reason="raw pipes: POSIX only")

# 700 lines: cut into chunks of about 100 (drain_ls.analysis.forest), so an opener's error can
# reach past its chunk, and be kept local.
TEXT = generate_module(700, seed=3)
LINES = TEXT.split("\n")
SHAPES = [
    *["(", "[", "{", '"', "'", '"""', "'''", "#", "\\"],
    *["def f(", "from x import (", "@decorator\n", "os", " sys", "x = ", "\n    "],
]
SETTLED = 20.0  # seconds to wait for a version's diagnostics (a loaded CI machine)


class Session:
    def __init__(self, raw: RawServer, root: Path) -> None:
        self.raw = raw
        self.root = root
        self.names = itertools.count()

    def open(self, text: str) -> str:
        uri = (self.root / f"m{next(self.names)}.py").as_uri()
        item = {"uri": uri, "languageId": "python", "version": 1, "text": text}
        self.raw.send(notification("textDocument/didOpen", {"textDocument": item}))
        return uri

    def close(self, uri: str) -> None:
        self.raw.send(notification("textDocument/didClose", {"textDocument": {"uri": uri}}))

    def change(self, uri: str, version: int, start: Any, end: Any, text: str) -> None:
        span = {"start": start, "end": end}
        self.raw.send(
            notification(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [{"range": span, "text": text}],
                },
            )
        )

    def hover(self, uri: str, position: Any) -> int:
        msg_id = self.raw.next_id()
        params = {"textDocument": {"uri": uri}, "position": position}
        self.raw.send(request(msg_id, "textDocument/hover", params))
        return msg_id

    def published(self, uri: str) -> list[dict[str, Any]]:
        while not self.raw.messages.empty():
            if not self.raw._pump(time.monotonic()):
                break
        return [
            m["params"]
            for m in self.raw.notifications
            if m["method"] == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri
        ]

    def settled(self, uri: str, version: int, expected: list[Any] | None = None) -> list[Any]:
        """The diagnostics last published for ``version`` of ``uri``, once they equal
        ``expected`` (a provisional publication may come first), else after ``SETTLED``."""
        deadline = time.monotonic() + SETTLED
        while True:
            mine = [p for p in self.published(uri) if p.get("version") == version]
            if mine and (expected is None or shape(mine[-1]) == expected):
                return shape(mine[-1])
            if time.monotonic() > deadline:
                assert mine, f"version {version} of {uri} was never published"
                return shape(mine[-1])
            time.sleep(0.02)


def shape(params: dict[str, Any]) -> list[Any]:
    return sorted(
        (d["range"]["start"]["line"], d["range"]["start"]["character"], d.get("code"), d["message"])
        for d in params["diagnostics"]
    )


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    root = tmp_path_factory.mktemp("shapes")
    raw = RawServer(root / "home")
    try:
        raw.initialize(root)
        raw.send(
            notification(
                "workspace/didChangeConfiguration",
                {"settings": {"drainLs": {"diagnostics": {"debounceMs": 0}}}},
            )
        )
        yield Session(raw, root)
        last = raw.next_id()
        raw.send(request(last, "shutdown"))
        assert raw.response(last)["result"] is None
        raw.send(notification("exit"))
        assert raw.wait() == 0
    finally:
        raw.close()


def position(text: str, offset: int) -> dict[str, int]:
    """The LSP position of ``offset`` in ``text`` (ASCII: characters are UTF-16 units)."""
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


@st.composite
def sessions(draw: st.DrawFn) -> list[tuple[float, str, int]]:
    """Shapes typed at a place (a fraction of the text, moved to a line start or end or
    kept mid-line), each erased again after ``kept`` of its characters (all kept: left in
    the file)."""
    plays = []
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.floats(0, 1))
        text = draw(st.sampled_from(SHAPES))
        kept = draw(st.one_of(st.just(0), st.integers(0, len(text))))
        plays.append((where, text, kept))
    return plays


@fixed(60, shrink=False)
@given(plays=sessions(), snap=st.sampled_from(["start", "end", "mid"]))
def test_typing_any_shape_settles_on_a_fresh_analysis(
    session: Session, plays: list[tuple[float, str, int]], snap: str
) -> None:
    assert TEXT.isascii()
    doc = TEXT
    uri = session.open(doc)
    version = 1
    hovers = []
    for where, text, kept in plays:
        cursor = int(where * len(doc))
        if snap == "start":
            cursor = doc.rfind("\n", 0, cursor) + 1
        elif snap == "end":
            found = doc.find("\n", cursor)
            cursor = len(doc) if found < 0 else found
        for char in text:
            version += 1
            at = position(doc, cursor)
            session.change(uri, version, at, at, char)
            doc = doc[:cursor] + char + doc[cursor:]
            cursor += 1
            hovers.append(session.hover(uri, position(doc, cursor)))
        for _ in range(len(text) - kept):
            version += 1
            cursor -= 1
            session.change(uri, version, position(doc, cursor), position(doc, cursor + 1), "")
            doc = doc[:cursor] + doc[cursor + 1 :]
            hovers.append(session.hover(uri, position(doc, cursor)))
    for msg_id in hovers:
        answer = session.raw.response(msg_id, timeout=SETTLED)
        assert "result" in answer, answer
    fresh = session.open(doc)
    expected = session.settled(fresh, 1)
    if not any(code == "E999" for *_, code, _ in expected):
        assert session.settled(uri, version, expected) == expected
    else:
        # Broken text: a fresh open parses it whole (the error may swallow the rest of the
        # file), the edited document keeps the error in its chunk; both report it.
        assert any(code == "E999" for *_, code, _ in session.settled(uri, version)), doc
    session.close(uri)
    session.close(fresh)
    session.raw.notifications.clear()
