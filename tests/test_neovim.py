"""drain-ls in a real, headless Neovim: its own LSP client, position encoding and edits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SAMPLE = '''"""Module."""
s = "é中😀"; import json
import os


def grüße(x):
    return os.sep + x
'''

NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim not installed (pip install .[test])")


def test_neovim_diagnostics_code_action_hover_and_status(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    env = {
        **os.environ,
        "DRAIN_LS_CMD": json.dumps([sys.executable, "-m", "drain_ls"]),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    script = Path(__file__).parent / "nvim" / "e2e.lua"
    assert NVIM is not None
    result = subprocess.run(
        [NVIM, "--headless", "--clean", "-u", str(script), str(sample)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout + result.stderr
    out = json.loads(lines[-1])
    assert result.returncode == 0, out
    # Neovim 0.12 negotiates utf-8: the column after "é中😀" is a byte count.
    assert out["offset_encoding"] == "utf-8"
    by_message = {d["message"]: d for d in out["diagnostics"]}
    json_import = by_message["`json` imported but unused"]
    assert json_import["lnum"] == 1
    assert json_import["col"] == len('s = "é中😀"; import '.encode())
    assert by_message["Missing docstring in public function"]["lnum"] == 5
    assert out["action"] == "Remove unused import `json`"
    assert out["lines_after_action"][1] == 's = "é中😀"'
    assert out["finding_gone"] is True
    assert "def grüße(x)" in out["hover"]
    assert "no docstring" in out["hover"]
    assert out["status_documents"] == 1


def test_neovim_plugin_commands_status_line_and_health(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(SAMPLE)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=T", "-c", "user.email=t@example.com"]
    quiet = {"check": True, "capture_output": True}
    subprocess.run([*git, "init", "-q"], **quiet)  # type: ignore[call-overload]
    subprocess.run([*git, "add", "sample.py"], **quiet)  # type: ignore[call-overload]
    subprocess.run([*git, "commit", "-q", "-m", "add sample"], **quiet)  # type: ignore[call-overload]
    env = {
        **os.environ,
        "DRAIN_LS_CMD": json.dumps([sys.executable, "-m", "drain_ls"]),
        "DRAIN_LS_PLUGIN": str(Path(__file__).parent.parent / "editors" / "nvim"),
        "DRAIN_LS_HOME": str(tmp_path / "home"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("ANTHROPIC_API_KEY", None)
    assert NVIM is not None
    result = subprocess.run(
        [
            NVIM,
            "--headless",
            "--clean",
            "-u",
            str(Path(__file__).parent / "nvim" / "plugin.lua"),
            str(sample),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout + result.stderr
    out = json.loads(lines[-1])
    assert result.returncode == 0, out
    steps = out["steps"]
    assert steps["status_after_drains"].startswith("drain: idle")
    assert steps["reviewed"] is True
    assert set(steps["commands"]) >= {
        "DrainRun",
        "DrainPause",
        "DrainResume",
        "DrainCancel",
        "DrainReport",
        "DrainPreview",
    }
    assert steps["paused"] is True and steps["resumed"] is True
    assert steps["report_window"] is True
    assert any("budget left today" in line for line in steps["report_lines"])
    # The offline commit review of the repository's commit, in the report window.
    assert "latest entries (custom drains, commit reviews):" in steps["report_lines"]
    assert any(line.startswith("review  ") for line in steps["report_lines"])
    assert steps["preview_window"] is True
    assert steps["preview_lines"][0].startswith(("docstrings", "summaries", "nothing"))
    health = steps["health"]
    assert "server found" in health and "version: drain-ls" in health
    assert "LLM drains enabled (backend: offline)" in health
    assert "ledger directory writable" in health
