"""What an API error means for the drains, decided the way the SDK asks: by HTTP status,
``error.type`` and ``error.details.error_code``, never by the wording of the message.

Sources: the errors page (https://platform.claude.com/docs/en/api/errors), and the SDK's
``_error_classes.py`` (``ERROR_CLASSES``: (status, error_code) -> exception class) and
``types/shared/*_error.py`` (one class per documented code).
"""

from __future__ import annotations

import math
from typing import Any

import anthropic

from drain_ls.backends.base import BackendError
from drain_ls.budget import Usage

# ``error.details.error_code`` values that name a spend limit (``types/shared/*_error.py``
# in the SDK; ``_error_classes.py`` maps them to their exception classes).
SPEND_LIMIT_CODES = {
    "enforced_spend_limit_reached": "the organisation's monthly spend limit",
    "contract_spend_limit_reached": "the spend limit of the organisation's contract",
}
BILLING_CODES = {
    "linked_organization_spend_limit_reached": "the linked organisation's spend limit or credit",
    "linked_organization_billing_unavailable": "the linked organisation's billing",
    "user_profile_billing_not_authorized": "billing for this user profile",
    "user_profile_not_billable": "billing for this user profile",
}
STOP_CODES = {"organization_on_hold": "the organisation is on hold"}


def classify(
    exc: anthropic.APIStatusError, usage: Usage | None = None, route: str = "messages"
) -> BackendError:
    """The ``BackendError`` for an API error, decided by its HTTP status, ``error.type`` and
    ``error.details.error_code`` (the SDK: "branch on it rather than on message"; an
    unrecognised code counts as its bare type). No text of the API's message is kept: it
    may quote the request. On a batch ``route`` a 404 is the batch's (gone, or another
    key's), not the model's."""
    status = exc.status_code
    error_type = _error_type(exc)
    code = getattr(exc, "error_code", None)
    code = code if isinstance(code, str) else None
    retry_after = _retry_after(exc)
    fields: dict[str, Any] = {
        "usage": usage,
        "status": status,
        "error_type": error_type,
        "error_code": code,
    }
    if status == 200:  # an error event in the middle of a stream
        return BackendError("midstream", f"stream error: {error_type}", **fields)
    if code in SPEND_LIMIT_CODES:
        return BackendError(
            "spend_limit", f"{SPEND_LIMIT_CODES[code]} is reached ({code})", **fields
        )
    if code in BILLING_CODES or status == 402 or error_type == "billing_error":
        what = BILLING_CODES.get(code or "", "the account's billing (credit balance)")
        return BackendError(
            "billing", f"the API refused the request for {what} ({code or error_type})", **fields
        )
    if code in STOP_CODES:
        return BackendError("auth", f"{STOP_CODES[code]} ({code})", **fields)
    if status == 429:
        return BackendError(
            "rate_limited", f"rate limited ({code or error_type})", retry_after, **fields
        )
    if status == 529 or error_type == "overloaded_error":
        return BackendError("overloaded", "the API is overloaded", retry_after, **fields)
    if status in (401, 403):
        return BackendError("auth", f"the API refused the credentials ({status})", **fields)
    if status == 404 and route == "messages":
        return BackendError(
            "model", "the API does not know the model (unknown, or retired)", **fields
        )
    if status == 413:
        return BackendError("too_large", "the request is over the API's size limit", **fields)
    if status == 400 and _workspace_limit(exc):
        return BackendError(
            "spend_limit",
            "the usage limit set on your API workspace or organisation is reached (400)",
            **fields,
        )
    if status >= 500 or status in (408, 409):
        return BackendError("server", f"API error {status}", retry_after, **fields)
    return BackendError("request", f"API error {status}: {code or error_type}", **fields)


def _workspace_limit(exc: anthropic.APIStatusError) -> bool:
    """A 400 for a usage limit the user set (on a workspace: "You have reached your specified
    workspace API usage limits", the rate-limits page; on the organisation: "... your
    specified API usage limits"). The API gives it no ``error_code``: its documented message
    is the only mark."""
    message = getattr(exc, "api_message", None)
    if not isinstance(message, str):
        return False
    lowered = " ".join(message.lower().split())
    return "you have reached your specified" in lowered and "usage limit" in lowered


def _retry_after(exc: anthropic.APIStatusError) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _error_type(exc: anthropic.APIStatusError) -> str:
    kind = getattr(exc, "type", None)
    if isinstance(kind, str) and kind:
        return kind
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", {}) if isinstance(body, dict) else {}
    return str(error.get("type", "error")) if isinstance(error, dict) else "error"
