"""Syntax errors in a real server process (issue 18, items 2 and 3): valid 3.12-3.14 code gets
no E999 whatever Python runs the server, ``targetVersion`` adds version errors that hide
nothing, lone CR line ends parse, and indentation errors typed are reported."""

from __future__ import annotations

import asyncio

from lsprotocol import types

from tests import test_server_e2e as e2e
from tests.test_server_e2e import Session

# The fixtures of the server's end-to-end tests: a real server, each client preset.
client = e2e.client
session = e2e.session

NEWER = (
    '"""Module."""\n'
    "import os\n"
    "import sys\n\n"
    "type Alias[T = int] = list[T]\n\n\n"
    "def first[T: (int, str) = int](items: list[T]) -> T:\n"
    '    return f"{items[0]["k"]:{"w"}}"  # PEP 701\n\n\n'
    "def handle():\n"
    '    """Doc."""\n'
    "    try:\n"
    "        pass\n"
    "    except ValueError, TypeError:\n"
    "        return sys\n"
)


async def _settle(session: Session, uri: str, check) -> list[types.Diagnostic]:  # type: ignore[no-untyped-def]
    for _ in range(500):
        found = await session.latest(uri)
        if check(found):
            return found
        await asyncio.sleep(0.02)
    return await session.latest(uri)


async def test_newer_syntax_has_findings_and_no_error_then_version_errors(
    session: Session,
) -> None:
    uri = session.open("newer.py", NEWER)
    found = await session.diagnostics(uri)
    assert sorted({str(d.code) for d in found}) == ["D103", "F401"], [d.message for d in found]
    settings = {"targetVersion": "py311"}
    session.client.set_configuration(settings, section="drainLs")
    session.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"drainLs": settings})
    )
    found = await _settle(session, uri, lambda ds: any(d.code == "E999" for d in ds))
    errors = [d.message for d in found if d.code == "E999"]
    assert any("Cannot use `type` alias statement on Python 3.11" in m for m in errors)
    assert any("Cannot set default type for a type parameter on Python 3.11" in m for m in errors)
    assert any("outer quote character in f-strings on Python 3.11" in m for m in errors)
    assert any("Multiple exception types must be parenthesized on Python 3.11" in m for m in errors)
    assert {"D103", "F401"} <= {str(d.code) for d in found}  # version errors hide nothing


async def test_lone_cr_line_ends_and_a_typed_indentation_error(session: Session) -> None:
    text = '"""Module."""\rimport os\rimport sys\rif sys:\r    x = 1\r'
    uri = session.open("cr.py", text)
    found = await session.diagnostics(uri)
    assert [(str(d.code), d.range.start.line) for d in found] == [("F401", 1)]
    end = types.Position(line=5, character=0)
    session.change(uri, types.Range(start=end, end=end), "  y = 2\r")
    found = await _settle(session, uri, lambda ds: any(d.code == "E999" for d in ds))
    errors = [d for d in found if d.code == "E999"]
    assert [e.message for e in errors] == [
        "IndentationError: unindent does not match any outer indentation level"
    ]
    assert errors[0].range.start.line == 5
