"""``drain-ls check`` as a user runs it: a real process on a real directory tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = {
    "pyproject.toml": '[tool.drain-ls]\nexclude = ["generated/"]\n',
    ".gitignore": "ignored.py\nbuild_out/\n",
    "pkg/__init__.py": '"""Package."""\n',
    "pkg/mod.py": '"""Module."""\nimport os\nimport sys\n\n\ndef run():\n    return sys.argv\n',
    "pkg/clean.py": '"""Clean."""\n',
    "ignored.py": "import os\n",
    "build_out/x.py": "import os\n",
    "generated/y.py": "import os\n",
}


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "drain_ls", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8", **(env or {})},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".git").mkdir()  # .gitignore applies inside a repository
    for name, text in PROJECT.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_findings_exit_1_with_ruff_style_text(project: Path) -> None:
    result = run("check", ".", cwd=project)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "pkg/mod.py:2:8: F401 [*] `os` imported but unused" in lines
    assert "pkg/mod.py:6:5: D103 [*] Missing docstring in public function" in lines
    # .gitignore and [tool.drain-ls] exclude are honoured.
    assert not any(part in result.stdout for part in ("ignored.py", "build_out", "generated"))
    assert lines[-2].startswith("Found 2 findings")


def test_clean_tree_exits_0(project: Path) -> None:
    result = run("check", "pkg/clean.py", "pkg/__init__.py", cwd=project)
    assert result.returncode == 0
    assert "All checks passed" in result.stdout


def test_json_output_has_ruffs_shape(project: Path) -> None:
    result = run("check", "--format", "json", "pkg", cwd=project)
    assert result.returncode == 1
    rows = json.loads(result.stdout)
    f401 = next(r for r in rows if r["code"] == "F401")
    assert f401["filename"] == str(project / "pkg" / "mod.py")
    assert f401["location"] == {"row": 2, "column": 8}
    assert f401["end_location"] == {"row": 2, "column": 10}
    assert f401["message"] == "`os` imported but unused"
    assert f401["fix"]["applicability"] == "safe"
    assert f401["fix"]["edits"] == [
        {
            "content": "",
            "location": {"row": 2, "column": 1},
            "end_location": {"row": 3, "column": 1},
        }
    ]
    d103 = next(r for r in rows if r["code"] == "D103")
    assert d103["location"] == {"row": 6, "column": 5}
    assert d103["url"].endswith("/undocumented-public-function/")


def test_select_and_ignore(project: Path) -> None:
    only_f = run("check", "--select", "F", "--format", "json", "pkg", cwd=project)
    assert {r["code"] for r in json.loads(only_f.stdout)} == {"F401"}
    no_d = run("check", "--ignore", "D1", "--format", "json", "pkg", cwd=project)
    assert {r["code"] for r in json.loads(no_d.stdout)} == {"F401"}
    nothing = run("check", "--select", "D", "--ignore", "D103", "pkg", cwd=project)
    assert nothing.returncode == 0


@pytest.mark.parametrize(
    "args",
    [("--select", "X999"), ("--format", "xml"), ("--jobs", "0"), ("no/such/path",)],
)
def test_usage_errors_exit_2(project: Path, args: tuple[str, ...]) -> None:
    result = run("check", *args, cwd=project)
    assert result.returncode == 2
    assert result.stderr.strip()


def test_fix_applies_and_leaves_the_tree_clean(project: Path) -> None:
    result = run("check", "--fix", "pkg", cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    text = (project / "pkg" / "mod.py").read_text()
    assert "import os" not in text
    assert '    """TODO: Summarize `run`.' in text
    compile(text, "mod.py", "exec")
    again = run("check", "pkg", cwd=project)
    assert again.returncode == 0


def test_bad_files_get_one_line_errors_and_the_run_goes_on(project: Path) -> None:
    (project / "pkg" / "latin.py").write_bytes(b'"""Caf\xe9."""\n')
    (project / "pkg" / "binary.py").write_bytes(b"\x00\x01\x02import os\n")
    (project / "pkg" / "dangling.py").symlink_to(project / "nowhere.py")
    result = run("check", "pkg", cwd=project)
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert any("latin.py: not valid UTF-8 (byte 0xe9 at line 1" in e for e in errors)
    assert any("binary.py: binary file" in e for e in errors)
    assert any("dangling.py: cannot read" in e for e in errors)
    assert len(errors) == 3
    assert "pkg/mod.py:2:8: F401" in result.stdout


def test_syntax_error_is_a_single_e999(project: Path) -> None:
    (project / "broken.py").write_text("import os\n\ndef f(:\n    pass\n")
    result = run("check", "--format", "json", "broken.py", cwd=project)
    rows = json.loads(result.stdout)
    assert [(r["code"], r["location"]["row"]) for r in rows] == [("E999", 3)]
    assert rows[0]["message"].startswith("SyntaxError:")


def test_deep_nesting_does_not_hit_the_recursion_limit(project: Path) -> None:
    depth = 3000
    (project / "deep.py").write_text(
        '"""Deep."""\nimport os\nx = ' + "[" * depth + "1" + "]" * depth + "\n"
    )
    blocks = (
        '"""Deep."""\nimport sys\n'
        + "".join("    " * i + "if x:\n" for i in range(90))
        + "    " * 90
        + "pass\n"
    )
    (project / "blocks.py").write_text(blocks)
    result = run("check", "--format", "json", "deep.py", "blocks.py", cwd=project)
    assert "RecursionError" not in result.stderr
    assert "internal error" not in result.stderr
    codes = sorted((Path(r["filename"]).name, r["code"]) for r in json.loads(result.stdout))
    assert ("blocks.py", "F401") in codes


def test_parallel_and_serial_runs_agree(project: Path) -> None:
    for i in range(12):
        (project / "pkg" / f"m{i}.py").write_text(f"import os\nimport m{i}\n\ndef f{i}(): pass\n")
    serial = run("check", "--format", "json", "--jobs", "1", "pkg", cwd=project)
    parallel = run("check", "--format", "json", "--jobs", "3", "pkg", cwd=project)
    assert json.loads(serial.stdout) == json.loads(parallel.stdout)


def test_noqa_comments_are_honoured(project: Path) -> None:
    (project / "q.py").write_text(
        '"""Q."""\nimport os  # noqa\nimport sys  # noqa: F401,D103\nimport re  # noqa: E501\n'
        "from x import (  # noqa: F401\n    a,\n    b,\n)\nfrom y import (\n    c,  # NOQA:F401\n    d,\n)\n"
    )
    result = run("check", "--format", "json", "q.py", cwd=project)
    names = sorted(r["message"].split("`")[1] for r in json.loads(result.stdout))
    assert names == ["re", "y.d"]


def test_version_and_module_entry_point(project: Path) -> None:
    result = run("--version", cwd=project)
    assert result.returncode == 0
    assert result.stdout.startswith("drain-ls ")


def test_run_dry_run_shows_what_would_be_sent_and_sends_nothing(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    # The backend is the user's own setting (their config file); the workspace's
    # pyproject.toml may only narrow what is sent.
    user = tmp_path / "user.toml"
    user.write_text('[llm]\nenabled = true\nbackend = "anthropic"\n')
    mine = {"DRAIN_LS_CONFIG": str(user)}
    (tmp_path / "pyproject.toml").write_text('[tool.drain-ls.privacy]\nexclude = ["legacy.py"]\n')
    (tmp_path / "app.py").write_text(
        'def connect(region):\n    key = "AKIAIOSFODNN7EXAMPLE"\n    return key\n'
    )
    (tmp_path / "legacy.py").write_text("def old():\n    pass\n")
    env_text = run("run", "--dry-run", ".", cwd=tmp_path, env=mine)
    assert env_text.returncode == 0, env_text.stderr
    assert "app.py: docstrings connect: at most" in env_text.stdout
    assert "1 secret(s) redacted" in env_text.stdout
    assert "legacy.py" not in env_text.stdout and "legacy.py" in env_text.stderr
    data = json.loads(run("run", "--dry-run", "--json", ".", cwd=tmp_path, env=mine).stdout)
    prompts = "\n".join(p["request"]["messages"][0]["content"] for p in data["previews"])
    assert "AKIA" not in prompts and "<redacted: AWS access key>" in prompts
    assert data["worstCaseTokens"] == sum(p["worstCaseTokens"] for p in data["previews"])
    no_key = {**mine, "ANTHROPIC_API_KEY": ""}
    assert run("run", ".", cwd=tmp_path, env=no_key).returncode == 2


def test_queue_lists_deferred_tasks(tmp_path: Path) -> None:
    from drain_ls.ledger import Ledger

    home = tmp_path / "home"
    ledger = Ledger(home / "ledger.sqlite3")
    ledger.defer(
        drain="docstrings",
        workspace="/w",
        scope_key="f",
        content_hash="h",
        estimated_tokens=1200,
        reason="budget.dailyUsd: needs 0.01, 0 left",
    )
    ledger.close()
    env = {**os.environ, "DRAIN_LS_HOME": str(home)}
    result = subprocess.run(
        [sys.executable, "-m", "drain_ls", "queue"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0
    assert "/w: docstrings f: at most 1,200 tokens" in result.stdout
    assert "1 deferred task(s)" in result.stdout
    rows = json.loads(
        subprocess.run(
            [sys.executable, "-m", "drain_ls", "queue", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        ).stdout
    )
    assert rows[0]["reason"].startswith("budget.dailyUsd")
