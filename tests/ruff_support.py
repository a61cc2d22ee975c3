"""ruff, the reference the rules are checked against: where it is, and its findings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

RUFF = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
HAS_RUFF = Path(RUFF).exists()


def ruff_findings(target: Path, select: str = "F401", cwd: Path | None = None) -> list[Any]:
    """ruff's JSON findings for ``target`` (a file or a directory), with no configuration
    but ``select`` (syntax errors are reported whatever the selection)."""
    command = [RUFF, "check", "--isolated", "--no-cache", "--select", select]
    command += ["--output-format", "json", str(target)]
    output = subprocess.run(
        command, capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    ).stdout
    findings: list[Any] = json.loads(output)
    return findings
