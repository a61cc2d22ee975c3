"""Typed settings from the tables users write, for tests that need a part of them."""

from __future__ import annotations

from typing import Any

from drain_ls.config import DrainsSettings, build_settings


def drains_of(table: dict[str, Any]) -> DrainsSettings:
    """The typed ``drains`` table a user's ``drains`` setting (camelCase) gives."""
    return build_settings({"drains": table})[0].drains
