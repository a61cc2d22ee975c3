"""Which files a directory walk checks, against ruff's walk of the same tree (issue 18: a
package named ``build``, such as ``hatchling.cli.build``, was skipped by drain-ls and not by
ruff 0.17, found by ``--fix`` on 68 packages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drain_ls.files import DEFAULT_EXCLUDES, Excluder, ProjectConfig, discover
from tests.ruff_support import HAS_RUFF, ruff_findings

# Every directory either tool skips by default, and look-alikes that are code.
NAMES = sorted({*DEFAULT_EXCLUDES, "build", "build.d", "mybuild", "builds", "src", "_dist"})


def _tree(root: Path) -> None:
    for name in NAMES:
        (root / "pkg" / name).mkdir(parents=True)
        (root / "pkg" / name / "m.py").write_text("import os\n")
    (root / "pkg" / "m.py").write_text("import os\n")


def _ours(root: Path) -> set[str]:
    found = discover([root / "pkg"], Excluder(ProjectConfig(None, {})), lambda *_: None)
    return {path.relative_to(root).as_posix() for path in found}


def test_a_package_named_build_is_checked_and_dist_is_not(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = _ours(tmp_path)
    assert "pkg/build/m.py" in found
    assert "pkg/m.py" in found
    assert "pkg/dist/m.py" not in found
    assert "pkg/.venv/m.py" not in found


@pytest.mark.skipif(not HAS_RUFF, reason="ruff is not installed")
def test_the_walk_skips_what_ruffs_skips(tmp_path: Path) -> None:
    _tree(tmp_path)
    theirs = {
        Path(r["filename"]).resolve().relative_to(tmp_path.resolve()).as_posix()
        for r in ruff_findings(Path("pkg"), cwd=tmp_path)
    }
    # Our own cache directory, which ruff cannot know of, aside.
    assert _ours(tmp_path) == theirs - {"pkg/.drain_ls_cache/m.py"}
