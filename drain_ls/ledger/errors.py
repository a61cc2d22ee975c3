"""The ledger's errors: ``LedgerError``, its kinds (what an SQLite or OS error means for the
drains), and the checks every amount passes before it is recorded (``check_price``)."""

from __future__ import annotations

import math
import sqlite3

from drain_ls.budget import Price

# SQLite's primary result codes, by what they mean for the drains.
_LOCKED_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED
_UNWRITABLE_CODES = {3, 8, 10, 13, 14}  # PERM, READONLY, IOERR, FULL, CANTOPEN


class LedgerError(RuntimeError):
    """The ledger cannot be read or written: no request may be sent.

    ``kind``: ``locked`` (another connection holds the lock: try again later), ``vanished``
    (the file was deleted or replaced while in use), ``unwritable`` (read-only, full, no
    permission, an I/O error), ``invalid`` (a value that must never be recorded), ``closed``,
    or ``error`` (anything else: a damaged schema, a newer version)."""

    def __init__(self, message: str, kind: str = "error") -> None:
        """An error of ``kind``, described by ``message`` (no prompt, no code)."""
        super().__init__(message)
        self.kind = kind


def _kind(exc: BaseException) -> str:
    """What an SQLite or OS error means for the drains (a ``LedgerError`` kind)."""
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        primary = code & 0xFF if isinstance(code, int) else None
        if primary in _LOCKED_CODES:
            return "locked"
        if primary in _UNWRITABLE_CODES:
            return "unwritable"
        return "error"
    if isinstance(exc, OSError):
        return "unwritable"
    return "error"


def _check_tokens(**counts: object) -> None:
    """Token counts are non-negative integers: anything else is never recorded."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LedgerError(
                f"refused to record {name} = {value!r}: not a non-negative token count", "invalid"
            )


def _check_dollars(**amounts: object) -> None:
    """Prices and costs are finite, non-negative numbers: anything else is never recorded."""
    for name, value in amounts.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise LedgerError(
                f"refused to record {name} = {value!r}: not a finite, non-negative amount",
                "invalid",
            )


def check_price(price: Price) -> None:
    """``LedgerError`` (``invalid``) unless every price is finite and non-negative."""
    _check_dollars(**{f"price_{i}": value for i, value in enumerate(price.values())})
