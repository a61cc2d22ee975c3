"""``drain_ls.uris.uri_to_path`` gives what ``pygls.uris.to_fs_path`` gives."""

from __future__ import annotations

import random
import string
from pathlib import Path

import pytest
from pygls.uris import to_fs_path

from drain_ls.uris import uri_to_path

URIS = [
    "file:///home/user/project/module.py",
    "file:///home/user/my%20project/a%20b.py",
    "file:///home/user/caf%C3%A9/na%C3%AFve.py",
    "file:///home/user/café/naïve.py",
    "file:///tmp/%E2%9C%93/%F0%9F%90%8D.py",
    "file:///tmp/bad%FFutf8.py",
    "file:///tmp/percent%25sign.py",
    "file:///tmp/percent%2Fslash.py",
    "file:///tmp/trailing%",
    "file:///tmp/half%2",
    "file:///tmp/a;b.py",
    "file:///tmp/a.py;params",
    "file:///tmp/a.py?query=1",
    "file:///tmp/a.py#fragment",
    "file:///tmp/a%3Fb%23c%3Bd.py",
    "file:///tmp/back\\slash.py",
    "file:///tmp/a+b.py",
    "file:///tmp/a%2Bb.py",
    "file:///tmp/dir/",
    "file:///",
    "file://",
    "file:",
    "file:/tmp/one-slash.py",
    "file:tmp/relative.py",
    "file://host/share/x.py",
    "file://host",
    "file://host/",
    "file://user@host:8080/share/x.py",
    "file://ho%20st/share/x.py",
    "file://localhost/tmp/x.py",
    "file:///C:/Users/x.py",
    "file:///c%3A/Users/x.py",
    "file:///Z:",
    "file:////server/share/x.py",
    "FILE:///tmp/upper.py",
    "File:///tmp/mixed.py",
    "fil%65:///tmp/escaped-scheme.py",
    "untitled:Untitled-1",
    "vscode-notebook-cell:/tmp/n.ipynb#W0sZmlsZQ%3D%3D",
    "https://example.com/a.py",
    "git:/tmp/a.py?ref=HEAD",
    "/tmp/no-scheme.py",
    "",
    "file:///tmp/ spaces .py",
    "file:///tmp/\u00a0nbsp.py",
    "file:///tmp/\u4e2d\u6587/\u6587\u4ef6.py",
    "file:///tmp/%E4%B8%AD%E6%96%87.py",
    "file:///tmp/tab%09newline%0A.py",
    "file:///tmp/nul%00.py",
]


@pytest.mark.parametrize("uri", URIS)
def test_uri_to_path_matches_pygls(uri: str) -> None:
    assert uri_to_path(uri) == to_fs_path(uri)


def test_uri_to_path_matches_pygls_on_random_uris() -> None:
    rng = random.Random(19)
    alphabet = string.ascii_letters + string.digits + "/%:;?#@ +-._~é中🐍\\" + "%20%2F%C3%A9%FF"
    for _ in range(3000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        uri = rng.choice(["file://", "file:///", "file:", "FILE://", "x:"]) + body
        assert uri_to_path(uri) == to_fs_path(uri), uri


def test_uri_to_path_inverts_as_uri(tmp_path: Path) -> None:
    for name in ["plain.py", "a b.py", "café.py", "100%.py", "a#b?c;d.py", "🐍.py"]:
        path = tmp_path / "dir with space" / name
        assert uri_to_path(path.as_uri()) == str(path)
