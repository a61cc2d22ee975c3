"""Nothing leaves the machine that should not: exclusions and redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from drain_ls.privacy import ExclusionError, Exclusions, redact

KEY = "AKIAIOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (f'aws = "{KEY}"', "AWS access key"),
        ('x = "sk-ant-api03-abcdefghijklmnopqrstu"', "Anthropic API key"),
        ('x = "sk-proj-abcdefghijklmnopqrstuvwxyz12"', "OpenAI API key"),
        ('t = "ghp_' + "a1B2" * 9 + '"', "GitHub token"),
        ('s = "xoxb-1234567890-abcdefghij"', "Slack token"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIabc\n-----END RSA PRIVATE KEY-----", "private key"),
        ('api_key = "q8Zr2LmX9vT4wP1s"', "secret assigned to `api_key`"),
        ('DB_PASSWORD = "hunter2hunter2"', "secret assigned to `DB_PASSWORD`"),
    ],
)
def test_secrets_are_replaced_and_reported_without_their_value(text: str, kind: str) -> None:
    redacted, found = redact("line one\n" + text)
    assert [(r.kind, r.line) for r in found] == [(kind, 2)]
    assert f"<redacted: {kind}>" in redacted
    assert "hunter2" not in redacted and KEY not in redacted and "MIIabc" not in redacted


@pytest.mark.parametrize(
    "text",
    [
        'token_type = "bearer"',
        'key = "name"',
        'message = "the secret is in the sauce"',
        "def password_prompt(): pass",
    ],
)
def test_ordinary_code_is_left_alone(text: str) -> None:
    assert redact(text) == (text, [])


def test_exclusions(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("generated/\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "generated").mkdir()
    outside = tmp_path.parent / "outside.py"
    outside.write_text("")
    link = tmp_path / "src" / "link.py"
    link.symlink_to(outside)
    rules = Exclusions([tmp_path], ("legacy_*.py",))
    assert rules.why_excluded(tmp_path / "src" / "app.py") is None
    assert rules.why_excluded(tmp_path / ".env") == "matches the deny list or privacy.exclude"
    assert rules.why_excluded(tmp_path / "src" / "my_secrets.py") is not None
    assert rules.why_excluded(tmp_path / ".ssh" / "config.py") is not None
    assert rules.why_excluded(tmp_path / "src" / "legacy_io.py") is not None
    assert rules.why_excluded(tmp_path / "generated" / "x.py") == "ignored by .gitignore"
    assert rules.why_excluded(link) == "outside the workspace folders"


def test_an_invalid_pattern_fails_closed(tmp_path: Path) -> None:
    with pytest.raises(ExclusionError, match=r"privacy\.exclude"):
        Exclusions([tmp_path], ("src/[z-a].py",))
