"""The VS Code extension contributes every server setting, with the server's own default."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from drain_ls.config import Settings, alias
from drain_ls.engine.review import ReviewOptions

MANIFEST = Path(__file__).parent.parent / "editors" / "vscode" / "package.json"


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(value):
        current = getattr(value, f.name)
        if dataclasses.is_dataclass(current) and f.name != "drains":
            out.update(leaves(current, f"{prefix}{alias(f)}."))
        else:
            out[f"{prefix}{alias(f)}"] = list(current) if isinstance(current, tuple) else current
    return out


def test_every_setting_is_contributed_with_its_default() -> None:
    properties = json.loads(MANIFEST.read_text())["contributes"]["configuration"]["properties"]
    expected = leaves(Settings())
    del expected["drains"]  # a free-form table: its keys below
    review = ReviewOptions()
    expected |= {
        "drains.docstrings.enabled": True,
        "drains.summaries.enabled": True,
        "drains.simplify.enabled": True,
        "drains.review.enabled": review.enabled,
        "drains.review.maxCommits": review.max_commits,
        "drains.review.maxBytes": review.max_bytes,
        "drains.review.pollSeconds": review.poll_seconds,
        "drains.concurrency": 2,
        "drains.custom": [],
    }
    for name, default in expected.items():
        contributed = properties.get(f"drainLs.{name}")
        assert contributed is not None, f"drainLs.{name} is not contributed"
        assert contributed["default"] == default, name
        assert len(contributed.get("markdownDescription") or contributed.get("description")) > 20
    extension_only = {"drainLs.path", "drainLs.interpreter", "drainLs.trace.server"}
    unknown = set(properties) - {f"drainLs.{n}" for n in expected} - extension_only
    assert not unknown, f"contributed but unknown to the server: {unknown}"


def test_settings_a_workspace_must_not_set_are_application_scoped() -> None:
    """VS Code ignores a ``"scope": "application"`` setting in a workspace's .vscode/settings.json:
    every setting that decides what is sent or spent is contributed so (the trust model)."""
    properties = json.loads(MANIFEST.read_text())["contributes"]["configuration"]["properties"]
    sensitive = ("drainLs.llm.", "drainLs.budget.", "drainLs.privacy.", "drainLs.drains.")
    for name, contributed in properties.items():
        if name.startswith(sensitive):
            assert contributed.get("scope") == "application", name
    # And every setting the server lets a workspace only narrow is among them.
    for section in ("llm", "budget", "privacy"):
        cls = type(getattr(Settings(), section))
        for f in dataclasses.fields(cls):
            assert f.metadata.get("trust", "free") != "free", f"{section}.{alias(f)}"
            assert properties[f"drainLs.{section}.{alias(f)}"]["scope"] == "application"
