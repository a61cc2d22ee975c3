"""JSON-RPC's envelope: the error codes, the checks that reject a message that cannot be
handled (``check_envelope``, ``Rejected``), and error texts fit to send to the client (their
first line, without paths: ``plain_text``, ``describe``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# JSON-RPC and LSP error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_NOT_INITIALIZED = -32002
REQUEST_CANCELLED = -32800

# An absolute path (POSIX or Windows) in an error text: never sent to the client.
_PATH = re.compile(r"""(?<![\w:/\\.])(?:[A-Za-z]:[\\/]|/)[^\s'"()<>,;]+""")
_MAX_ERROR_TEXT = 300


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
