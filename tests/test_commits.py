"""Commit review: real git repositories in tmp_path, and the parsing of reviewers' answers."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drain_ls import commits as commits_module
from drain_ls.commits import (
    REVIEW_INSTRUCTIONS,
    CommitBatch,
    CommitInfo,
    ReviewFinding,
    commits_since,
    offline_review,
    parse_findings,
    still_there,
)
from drain_ls.privacy import Exclusions

AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
CANARY = "canary-value-9f3b2c"


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git configuration; fixed identities and dates."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")


class Repo:
    """A scratch repository."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")
        self.git("config", "commit.gpgsign", "false")
        self.count = 0

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args], check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    def commit(self, message: str, files: dict[str, str | bytes | None]) -> str:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                self.git("rm", "-q", "--", name)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
            self.git("add", "--", name)
        self.count += 1
        date = f"2024-01-{self.count:02d}T12:00:00+00:00"
        subprocess.run(
            ["git", "-C", str(self.path), "commit", "-q", "--allow-empty", "-m", message],
            check=True,
            env={**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "repo")


def numbered(count: int, word: str = "line") -> str:
    return "".join(f"{word}_{i} = {i}\n" for i in range(1, count + 1))


def headers(batch: CommitBatch) -> list[str]:
    return [line for line in batch.diff_text.splitlines() if line.startswith("commit ")]


def check_hunks(text: str) -> None:
    """Every hunk header of ``text`` counts exactly the lines under it."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"@@ -\d+,(\d+) \+\d+,(\d+) @@", line)
        if match is None:
            continue
        old, new = int(match.group(1)), int(match.group(2))
        row = index + 1
        while old or new:
            prefix = lines[row][:1]
            assert prefix in (" ", "+", "-", "\\"), lines[row]
            old -= prefix in " -"
            new -= prefix in " +"
            row += 1
        assert old == 0 and new == 0


# --- which commits ------------------------------------------------------------------------


def test_since_none_takes_the_last_commits_newest_last(repo: Repo) -> None:
    one = repo.commit("first", {"a.py": "A = 1\n"})
    two = repo.commit("second", {"b.py": "B = 2\n"})
    three = repo.commit("third", {"a.py": "A = 1\nA2 = 11\n"})
    batch = commits_since(repo.path, None)
    assert batch is not None
    assert [c.sha for c in batch.commits] == [one, two, three]
    assert [c.subject for c in batch.commits] == ["first", "second", "third"]
    assert batch.commits[0].date == "2024-01-01T12:00:00+00:00"
    assert [c.files for c in batch.commits] == [["a.py"], ["b.py"], ["a.py"]]
    assert (batch.first, batch.last) == (one, three)
    assert headers(batch) == [
        f"commit {one[:12]} first",
        f"commit {two[:12]} second",
        f"commit {three[:12]} third",
    ]
    assert not batch.truncated and not batch.since_lost and batch.omitted_commits == 0
    # The root commit's diff is against the empty tree.
    assert "--- /dev/null\n+++ b/a.py\n@@ -0,0 +1,1 @@\n+A = 1\n" in batch.diff_text
    assert batch.added_lines == {"a.py": {1: "A = 1", 2: "A2 = 11"}, "b.py": {1: "B = 2"}}
    check_hunks(batch.diff_text)

    last_two = commits_since(repo.path, None, max_commits=2)
    assert last_two is not None
    assert [c.sha for c in last_two.commits] == [two, three]
    assert last_two.first == two and last_two.omitted_commits == 0
    assert last_two.added_lines == {"a.py": {2: "A2 = 11"}, "b.py": {1: "B = 2"}}


def test_commits_since_is_exclusive_and_counts_what_max_commits_leaves_out(repo: Repo) -> None:
    one = repo.commit("first", {"a.py": "A = 1\n"})
    two = repo.commit("second", {"b.py": "B = 2\n"})
    three = repo.commit("third", {"c.py": "C = 3\n"})
    batch = commits_since(repo.path, one)
    assert batch is not None
    assert [c.sha for c in batch.commits] == [two, three]
    assert "A = 1" not in batch.diff_text and batch.first == two and batch.last == three
    assert set(batch.added_lines) == {"b.py", "c.py"}

    assert commits_since(repo.path, three) is None  # nothing new
    assert commits_since(repo.path, three[:10]) is None  # an abbreviated sha is resolved

    newest = commits_since(repo.path, one, max_commits=1)
    assert newest is not None
    assert [c.sha for c in newest.commits] == [three]
    assert newest.omitted_commits == 1 and not newest.since_lost


def test_a_rewritten_history_falls_back_to_the_last_commits(repo: Repo, tmp_path: Path) -> None:
    repo.commit("first", {"a.py": "A = 1\n"})
    reviewed = repo.commit("second", {"b.py": "B = 2\n"})
    repo.git("reset", "-q", "--hard", "HEAD~1")
    rewritten = repo.commit("second, again", {"b.py": "B = 3\n"})
    batch = commits_since(repo.path, reviewed, max_commits=5)
    assert batch is not None and batch.since_lost
    assert [c.subject for c in batch.commits] == ["first", "second, again"]
    assert batch.last == rewritten

    # Unknown or hostile `since` values are never passed to git as options.
    for since in ("0" * 40, "--output=" + str(tmp_path / "pwned"), "HEAD~1"):
        fallback = commits_since(repo.path, since)
        assert fallback is not None and fallback.since_lost
        assert len(fallback.commits) == 2
    assert not (tmp_path / "pwned").exists()


def test_merge_commits_are_skipped(repo: Repo) -> None:
    base = repo.commit("base", {"a.py": "A = 1\n"})
    repo.git("checkout", "-q", "-b", "feature")
    repo.commit("feature work", {"f.py": "F = 1\n"})
    repo.git("checkout", "-q", "main")
    repo.commit("main work", {"m.py": "M = 1\n"})
    repo.git("merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    batch = commits_since(repo.path, base)
    assert batch is not None
    assert sorted(c.subject for c in batch.commits) == ["feature work", "main work"]
    assert "Merge" not in batch.diff_text
    assert batch.last == repo.git("rev-parse", "HEAD")  # the merge is HEAD: reviewed up to it
    assert batch.added_lines == {"f.py": {1: "F = 1"}, "m.py": {1: "M = 1"}}


def test_no_repository_no_commit_no_git_are_none_and_logged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.py").write_text("A = 1\n")
    with caplog.at_level(logging.INFO, logger="drain_ls"):
        assert commits_since(plain, None) is None
    assert any("not a git repository" in r.getMessage() for r in caplog.records)
    assert all(r.levelno == logging.INFO for r in caplog.records)

    assert commits_since(tmp_path / "missing", None) is None

    empty = Repo(tmp_path / "empty")
    assert commits_since(empty.path, None) is None
    assert commits_since(empty.path, "abcdef12") is None

    repo = Repo(tmp_path / "repo")
    repo.commit("only", {"a.py": "A = 1\n"})
    caplog.clear()
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))
    with caplog.at_level(logging.INFO, logger="drain_ls"):
        assert commits_since(repo.path, None) is None
    assert any("git is not installed" in r.getMessage() for r in caplog.records)


def test_timeouts_are_none(repo: Repo) -> None:
    repo.commit("only", {"a.py": "A = 1\n"})
    assert commits_since(repo.path, None, timeout=0) is None
    assert commits_since(repo.path, None, timeout=10) is not None


def test_single_commit_detached_head_and_empty_commits(repo: Repo) -> None:
    only = repo.commit("only", {"a.py": "A = 1\n"})
    batch = commits_since(repo.path, None)
    assert batch is not None and batch.first == batch.last == only
    second = repo.commit("second", {"b.py": "B = 1\n"})
    repo.git("checkout", "-q", "--detach", only)
    detached = commits_since(repo.path, None)
    assert detached is not None and detached.last == only
    repo.git("checkout", "-q", "main")
    empty = repo.commit("nothing", {})
    # An empty commit changes no file: it is not listed, yet HEAD counts as reviewed.
    batch = commits_since(repo.path, only)
    assert batch is not None
    assert [c.sha for c in batch.commits] == [second] and batch.last == empty
    assert commits_since(repo.path, second) is None


def test_a_subdirectory_root_sees_its_own_files_relative_to_it(repo: Repo) -> None:
    repo.commit("outside", {"other/x.py": "X = 1\n"})
    inside = repo.commit("inside", {"pkg/mod.py": "M = 1\n", "other/y.py": "Y = 1\n"})
    repo.commit("outside again", {"other/z.py": "Z = 1\n"})
    batch = commits_since(repo.path / "pkg", None)
    assert batch is not None
    assert [(c.sha, c.files) for c in batch.commits] == [(inside, ["mod.py"])]
    assert "other/" not in batch.diff_text and "+++ b/mod.py" in batch.diff_text
    assert batch.added_lines == {"mod.py": {1: "M = 1"}}


# --- what is sent -------------------------------------------------------------------------


@pytest.fixture
def git_outputs(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Everything git writes to drain-ls's end of the pipe."""
    outputs: list[bytes] = []
    real_run = subprocess.run

    def spy(*args: Any, **kwargs: Any) -> Any:
        done = real_run(*args, **kwargs)
        if isinstance(done.stdout, bytes):
            outputs.append(done.stdout)
        return done

    monkeypatch.setattr(commits_module.subprocess, "run", spy)
    return outputs


def test_excluded_files_are_never_read_nor_named(repo: Repo, git_outputs: list[bytes]) -> None:
    repo.commit("init", {"app.py": "A = 1\n"})
    repo.commit(
        "config",
        {
            ".env": f"TOKEN={CANARY}\n",
            "secret_config.py": f"VALUE = '{CANARY}'\n",
            "app.py": "A = 1\nB = 2\n",
        },
    )
    rules = Exclusions([repo.path])
    batch = commits_since(repo.path, None, exclusions=rules.why_excluded)
    assert batch is not None
    assert [c.files for c in batch.commits] == [["app.py"], ["app.py"]]
    assert batch.excluded_files == 2
    assert ".env" not in batch.diff_text and "secret_config" not in batch.diff_text
    assert CANARY not in batch.diff_text
    assert set(batch.added_lines) == {"app.py"}
    # Only names and counts of the excluded files crossed the pipe, never their content.
    assert git_outputs and not any(CANARY.encode() in out for out in git_outputs)

    def broken(path: Path) -> str | None:
        raise OSError("cannot decide")

    closed = commits_since(repo.path, None, exclusions=broken)
    assert closed is not None and closed.empty and closed.excluded_files == 3


def test_a_file_renamed_from_an_excluded_one_is_sent_as_new(
    repo: Repo, git_outputs: list[bytes]
) -> None:
    body = numbered(12)
    repo.commit("secret", {"secret_config.py": body + f"TOKEN = '{CANARY}'\n"})
    repo.git("mv", "secret_config.py", "settings.py")
    repo.commit("public now", {"settings.py": body})
    rules = Exclusions([repo.path])
    batch = commits_since(repo.path, None, max_commits=1, exclusions=rules.why_excluded)
    assert batch is not None
    assert batch.commits[0].files == ["settings.py"] and batch.excluded_files == 1
    assert "secret_config" not in batch.diff_text and "rename" not in batch.diff_text
    assert "--- /dev/null\n+++ b/settings.py\n@@ -0,0 +1,12 @@\n" in batch.diff_text
    assert not any(CANARY.encode() in out for out in git_outputs)
    assert batch.added_lines == {"settings.py": {n: f"line_{n} = {n}" for n in range(1, 13)}}


def test_secrets_are_redacted_in_the_diff_and_the_subject(repo: Repo) -> None:
    repo.commit("init", {"app.py": "import os\n"})
    repo.commit(
        f"add keys {AWS_KEY}",
        {
            "app.py": (
                "import os\n"
                'password = "hunter2hunter2"\n'
                'KEY = """\n'
                "-----BEGIN RSA PRIVATE KEY-----\n"
                "MIIEowIBAAKCAQEAsecretbody\n"
                "moresecretbody\n"
                "-----END RSA PRIVATE KEY-----\n"
                '"""\n'
                f'AWS = "{AWS_KEY}"\n'
                "AFTER = 1\n"
            )
        },
    )
    batch = commits_since(repo.path, None)
    assert batch is not None
    text = batch.diff_text
    for secret in (AWS_KEY, "hunter2hunter2", "MIIEow", "moresecretbody"):
        assert secret not in text
        assert not any(
            secret in line for lines in batch.added_lines.values() for line in lines.values()
        )
    assert "<redacted: AWS access key>" in text
    assert "<redacted: secret assigned to `password`>" in text
    assert "<redacted: private key>" in text
    assert batch.redactions == 4  # subject, AWS key, password, key block
    assert batch.commits[1].subject == "add keys <redacted: AWS access key>"
    # The key block kept its lines: the hunk still counts 9 added lines, numbers stay right.
    assert "@@ -1,1 +1,10 @@" in text
    check_hunks(text)
    assert (
        batch.added_lines["app.py"][2] == 'password = "<redacted: secret assigned to `password`>"'
    )
    assert batch.added_lines["app.py"][4] == "<redacted: private key>"
    assert batch.added_lines["app.py"][9] == 'AWS = "<redacted: AWS access key>"'
    assert batch.added_lines["app.py"][10] == "AFTER = 1"

    raw = commits_since(repo.path, None, redact_secrets=False)
    assert raw is not None and AWS_KEY in raw.diff_text and raw.redactions == 0


def test_binary_files_are_skipped_and_odd_text_survives(repo: Repo) -> None:
    repo.commit(
        "assets",
        {
            "logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
            "legacy.py": b"NAME = '\xe9t\xe9'\n",  # Latin-1, not UTF-8
            "crlf.py": b"A = 1\r\nB = 2\r\n",
            "uv.lock": "version = 1\n",
            "tool.py": "T = 1\n",
        },
    )
    batch = commits_since(repo.path, None)
    assert batch is not None
    assert batch.commits[0].files == ["crlf.py", "legacy.py", "tool.py"]
    assert batch.skipped_files == 2
    assert "logo.png" not in batch.diff_text and "Binary" not in batch.diff_text
    assert "uv.lock" not in batch.diff_text
    assert "+NAME = '\ufffdt\ufffd'" in batch.diff_text
    assert batch.added_lines["crlf.py"] == {1: "A = 1", 2: "B = 2"}
    assert "\r" not in batch.diff_text


def test_odd_paths_renames_and_deletions(repo: Repo, git_outputs: list[bytes]) -> None:
    repo.commit(
        "odd names",
        {
            "dir/with space.py": "S = 1\n",
            'q"uote.py': "Q = 1\n",
            "caf\u00e9.py": "E = 1\n",
            "old.py": numbered(20),
            "gone.py": f"GONE = '{CANARY}'\n",
        },
    )
    base = repo.git("rev-parse", "HEAD")
    repo.git("mv", "old.py", "new.py")
    (repo.path / "new.py").write_text(numbered(20).replace("line_10 = 10", "line_10 = 100"))
    repo.commit(
        "rename and delete", {"new.py": (repo.path / "new.py").read_text(), "gone.py": None}
    )
    first = commits_since(repo.path, None, max_commits=1)
    assert first is not None
    assert first.commits[0].files == ["gone.py", "new.py"]
    text = first.diff_text
    assert "rename from old.py\nrename to new.py\n--- a/old.py\n+++ b/new.py\n" in text
    assert "-line_10 = 10\n+line_10 = 100\n" in text and "line_1 = 1\n" not in text
    assert "diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ /dev/null\n" in text
    assert CANARY not in text  # a deleted file's old content is not sent, nor even read
    assert not any(CANARY.encode() in out for out in git_outputs)
    assert first.added_lines == {"new.py": {10: "line_10 = 100"}}

    everything = commits_since(repo.path, None)
    assert everything is not None
    assert everything.commits[0].files == [
        "caf\u00e9.py",
        "dir/with space.py",
        "gone.py",
        "old.py",
        'q"uote.py',
    ]
    assert everything.added_lines["dir/with space.py"] == {1: "S = 1"}
    assert everything.added_lines['q"uote.py'] == {1: "Q = 1"}
    assert everything.added_lines["caf\u00e9.py"] == {1: "E = 1"}
    assert "+++ b/dir/with space.py\n" in everything.diff_text
    assert base == everything.first


def test_repository_settings_do_not_change_the_output(repo: Repo) -> None:
    for key, value in (
        ("diff.noprefix", "true"),
        ("diff.mnemonicPrefix", "true"),
        ("color.ui", "always"),
        ("diff.external", "/bin/false"),
        ("diff.context", "10"),
        ("diff.suppressBlankEmpty", "true"),
        ("core.quotepath", "true"),
        ("diff.renames", "false"),
        ("core.pager", "false"),
    ):
        repo.git("config", key, value)
    repo.commit("one", {"\u00e9.py": numbered(30)})
    body = numbered(30).replace("line_15 = 15\n", "line_15 = 15\n\nline_15b = 0\n")
    repo.commit("two", {"\u00e9.py": body})
    batch = commits_since(repo.path, None, max_commits=1)
    assert batch is not None
    assert batch.commits[0].files == ["\u00e9.py"]
    assert "\x1b[" not in batch.diff_text
    assert (
        "--- a/\u00e9.py\n+++ b/\u00e9.py\n@@ -13,6 +13,8 @@ line_12 = 12\n line_13 = 13\n line_14 = 14\n"
        " line_15 = 15\n+\n+line_15b = 0\n line_16 = 16\n"
    ) in batch.diff_text
    assert batch.added_lines == {"\u00e9.py": {16: "", 17: "line_15b = 0"}}


def test_bounds_keep_the_newest_whole_lines_and_valid_hunks(repo: Repo) -> None:
    shas = [repo.commit(f"commit {i}", {f"f{i}.py": numbered(80, f"v{i}")}) for i in range(6)]
    full = commits_since(repo.path, None)
    assert full is not None and not full.truncated
    assert len(full.diff_text.encode()) > 6 * 80 * 10

    for limit in (300, 1000, 2500, 5000):
        batch = commits_since(repo.path, None, max_bytes=limit)
        assert batch is not None, limit
        text = batch.diff_text
        assert len(text.encode("utf-8")) <= limit
        assert batch.truncated and text.endswith("to fit the size limit]\n")
        check_hunks(text)
        # Never a partial line: every added line is a whole line of some file.
        everything = {f"v{i}_{n} = {n}" for i in range(6) for n in range(1, 81)}
        added = [
            line[1:]
            for line in text.splitlines()
            if line.startswith("+") and not line.startswith("+++")
        ]
        assert added and all(line in everything for line in added)
        # The newest commit is served first.
        assert batch.last == shas[-1] and batch.commits[-1].sha == shas[-1]
        assert batch.commits[-1].files == ["f5.py"]
        assert "+v5_1 = 1" in text
    small = commits_since(repo.path, None, max_bytes=300)
    assert small is not None and len(small.commits) < 6 and small.first != shas[0]

    assert commits_since(repo.path, None, max_bytes=50) is None  # not even one header fits


def test_many_commits_are_bounded_by_count(repo: Repo) -> None:
    shas = [repo.commit(f"c{i}", {"a.py": numbered(i + 1)}) for i in range(15)]
    batch = commits_since(repo.path, shas[0])
    assert batch is not None
    assert [c.sha for c in batch.commits] == shas[5:]
    assert batch.omitted_commits == 4
    assert batch.added_lines == {"a.py": {n: f"line_{n} = {n}" for n in range(6, 16)}}


def test_added_lines_are_numbered_in_the_newest_version(repo: Repo) -> None:
    repo.commit("start", {"m.py": numbered(10)})
    first = numbered(10).replace("line_5 = 5\n", "line_5 = 5\nnew_a = 1\nnew_b = 2\n")
    repo.commit("add two", {"m.py": first})
    second = "header = 0\nheader2 = 0\n" + first.replace("new_b = 2\n", "new_b = 22\n")
    repo.commit("edit", {"m.py": second})
    batch = commits_since(repo.path, None, max_commits=2)
    assert batch is not None
    final = second.splitlines()
    added = batch.added_lines["m.py"]
    assert added == {1: "header = 0", 2: "header2 = 0", 8: "new_a = 1", 9: "new_b = 22"}
    assert all(final[number - 1] == text for number, text in added.items())


# --- findings -------------------------------------------------------------------------------


def fake_batch(root: Path, added: dict[str, dict[int, str]]) -> CommitBatch:
    return CommitBatch(
        root=root,
        commits=[CommitInfo("a" * 40, "2024-01-01T00:00:00+00:00", "s", sorted(added))],
        diff_text="",
        first="a" * 40,
        last="a" * 40,
        excluded_files=0,
        redactions=0,
        truncated=False,
        added_lines=added,
    )


def test_review_instructions_ask_for_the_parsed_form() -> None:
    assert "at most 8 findings" in REVIEW_INSTRUCTIONS
    assert "path:line: message" in REVIEW_INSTRUCTIONS
    assert REVIEW_INSTRUCTIONS.endswith("no findings")


def test_parse_findings_tolerates_messy_answers(tmp_path: Path) -> None:
    batch = fake_batch(tmp_path, {"pkg/tool.py": {}, "pkg/tool_b.py": {}, "dir/with space.py": {}})
    answer = f"""Here is my review of the commits.

```
- `pkg/tool.py:8`: print left in
* **pkg/tool.py:11** \u2014 bare except
1. a/pkg/tool.py:19:5: swallowed exception
pkg/tool.py, line 21: breakpoint left in
pkg/tool.py (line 22): another
Also `unknown.py:3: not in the batch`
src/pkg/tool.py:3: a longer path is a different file
pkg/tool.py:0: line zero
pkg/tool.py:25
pkg/tool_b.py:4: the longer name wins
dir/with space.py:2: spaces in names
pkg/tool.py:25 - method lacks a docstring
pkg/tool.py:25 - method lacks a docstring
{tmp_path.as_posix()}/pkg/tool.py:7: absolute path
```
"""
    found = parse_findings(answer, batch)
    assert found == [
        ReviewFinding("pkg/tool.py", 8, "print left in"),
        ReviewFinding("pkg/tool.py", 11, "bare except"),
        ReviewFinding("pkg/tool.py", 19, "swallowed exception"),
        ReviewFinding("pkg/tool.py", 21, "breakpoint left in"),
        ReviewFinding("pkg/tool.py", 22, "another"),
        ReviewFinding("pkg/tool_b.py", 4, "the longer name wins"),
        ReviewFinding("dir/with space.py", 2, "spaces in names"),
        ReviewFinding("pkg/tool.py", 25, "method lacks a docstring"),
    ]
    assert parse_findings(answer, batch, limit=2) == found[:2]
    assert parse_findings("no findings", batch) == []
    assert parse_findings("pkg/tool.py:3: x", fake_batch(tmp_path, {})) == []


TOOL = '''"""Tool."""

import pdb


def public_no_doc(x):
    # TODO: handle negative numbers
    print(x)
    try:
        return 1 / x
    except:
        return None


def documented(y):
    """Has one."""
    try:
        return y()
    except Exception:
        pass
    breakpoint()


class Thing:
    """Documented."""

    def method(self):
        return 1

    def _private(self):
        return 2

    def outer(self):
        """Doc."""

        def inner():
            return 3

        return inner
'''


def test_offline_review_finds_planted_issues_at_their_lines(repo: Repo) -> None:
    repo.commit("start", {"pkg/tool.py": "", "tests/test_tool.py": ""})
    repo.commit("tool", {"pkg/tool.py": TOOL})
    shifted = '"""Tool."""\nimport os\nimport sys\n' + TOOL.split("\n", 1)[1]
    repo.commit(
        "more",
        {
            "pkg/tool.py": shifted,
            "tests/test_tool.py": "def test_it():\n    print('fine in a test')\n",
            "README.md": "TODO: not Python\n",
        },
    )
    batch = commits_since(repo.path, None, max_commits=2)
    assert batch is not None
    answer = offline_review(batch)
    assert answer == offline_review(batch)  # deterministic
    expected = [  # the planted lines, two lines further down after the second commit
        "pkg/tool.py:5: debugger call left in (`import pdb`)",
        "pkg/tool.py:8: public function `public_no_doc` was added without a docstring",
        "pkg/tool.py:9: TODO left in: TODO: handle negative numbers",
        "pkg/tool.py:10: `print()` left in (debugging?); use logging or remove it",
        "pkg/tool.py:13: bare `except:` also catches KeyboardInterrupt and SystemExit; "
        "name the exception",
        "pkg/tool.py:21: `except Exception: pass` silently swallows every error",
        "pkg/tool.py:23: debugger call left in (`breakpoint()`)",
        "pkg/tool.py:29: public function `method` was added without a docstring",
    ]
    assert answer.splitlines() == expected
    lines = shifted.splitlines()
    for finding in parse_findings(answer, batch):
        assert still_there(finding, batch, lines) == finding.line - 1


def test_offline_review_caps_and_long_functions(repo: Repo) -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(70))
    long = f'def long_one():\n    """Doc."""\n{body}    return x0\n'
    many = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(10))
    repo.commit("long", {"a.py": long, "b.py": many})
    answer = offline_review(commits_since(repo.path, None) or fake_batch(repo.path, {}))
    lines = answer.splitlines()
    assert lines[0] == "a.py:1: function `long_one` is 73 lines long; consider splitting it up"
    assert len(lines) == 8
    assert lines[1:] == [
        f"b.py:{1 + 4 * i}: public function `f{i}` was added without a docstring" for i in range(7)
    ]


def test_offline_review_without_findings_is_one_line_that_parses_to_nothing(
    repo: Repo,
) -> None:
    repo.commit("clean", {"a.py": '"""Doc."""\n\n\ndef f():\n    """Doc."""\n    return 1\n'})
    batch = commits_since(repo.path, None)
    assert batch is not None
    answer = offline_review(batch)
    assert answer == "no findings: 1 commit(s), 1 file(s), 6 added line(s) reviewed offline"
    assert parse_findings(answer, batch) == []


# --- still there ------------------------------------------------------------------------------


@pytest.fixture
def anchored(tmp_path: Path) -> Iterator[tuple[CommitBatch, ReviewFinding, list[str]]]:
    lines = [f"x{i} = {i}" for i in range(100)]
    lines[40] = "    print(debug)"
    added = {"m.py": {41: "    print(debug)", 42: "", 43: "x42 = 42"}}
    yield fake_batch(tmp_path, added), ReviewFinding("m.py", 41, "print"), lines


def test_still_there_unchanged_and_moved(anchored: Any) -> None:
    batch, finding, lines = anchored
    assert still_there(finding, batch, lines) == 40
    moved = ["new = 0"] * 3 + lines
    assert still_there(finding, batch, moved) == 43
    up = lines[5:]
    assert still_there(finding, batch, up) == 35
    indented = [*lines[:40], "print(debug)  ", *lines[41:]]  # stripped compare
    assert still_there(finding, batch, indented) == 40


def test_still_there_edited_deleted_far_or_blank(anchored: Any) -> None:
    batch, finding, lines = anchored
    edited = [*lines[:40], "    log(debug)", *lines[41:]]
    assert still_there(finding, batch, edited) is None
    deleted = lines[:40] + lines[41:]
    assert still_there(finding, batch, deleted) is None
    far = ["pad = 0"] * 51 + lines  # moved 51 lines down: too far
    assert still_there(finding, batch, far) is None
    near = ["pad = 0"] * 50 + lines
    assert still_there(finding, batch, near) == 90
    assert still_there(ReviewFinding("m.py", 42, "blank"), batch, lines) is None
    assert still_there(ReviewFinding("m.py", 7, "not added"), batch, lines) is None
    assert still_there(ReviewFinding("other.py", 41, "no file"), batch, lines) is None
    assert still_there(finding, batch, []) is None


def test_still_there_prefers_the_nearest_then_the_earlier(anchored: Any) -> None:
    batch, finding, lines = anchored
    twice = [*lines[:40], "changed", *lines[41:]]
    twice[37] = "    print(debug)"
    twice[44] = "    print(debug)"
    assert still_there(finding, batch, twice) == 37
    twice[42] = "    print(debug)"
    assert still_there(finding, batch, twice) == 42
    twice[38] = "    print(debug)"
    assert still_there(finding, batch, twice) == 38  # a tie: the earlier line


def test_still_there_matches_redacted_lines(tmp_path: Path) -> None:
    batch = fake_batch(tmp_path, {"k.py": {3: 'AWS = "<redacted: AWS access key>"'}})
    current = ["a", "b", "c", f'AWS = "{AWS_KEY}"']
    assert still_there(ReviewFinding("k.py", 3, "key"), batch, current) == 3


def test_offline_review_heuristics_on_partly_added_code(repo: Repo) -> None:
    start = (
        "class Existing:\n"
        '    """Doc."""\n'
        "\n"
        "    def old(self):\n"
        '        """Doc."""\n'
        "        return 1\n"
        "\n"
        "\n"
        "def work(path):\n"
        '    """Doc."""\n'
        "    with open(path) as f:\n"
        "        return f.read()\n"
    )
    repo.commit("start", {"m.py": start, "cli.py": "", "scripts/go.py": ""})
    changed = start.replace(
        "        return 1\n",
        "        return 1\n\n    def added(self):\n        return 2\n",
    ).replace(
        "        return f.read()\n",
        "        def helper():\n            return 3\n\n        return f.read()\n",
    )
    changed += "\n\nif TYPE_CHECKING:\n\n    def typed(x):\n        return x\n"
    changed += "\n\ndef report(x):\n    '''Doc.'''\n    print(x, file=sys.stderr)\n"
    repo.commit(
        "more",
        {
            "m.py": changed,
            "cli.py": "def main():\n    '''Doc.'''\n    print('usage')\n",
            "scripts/go.py": "print('hello')\n",
        },
    )
    batch = commits_since(repo.path, None, max_commits=1)
    assert batch is not None
    lines = changed.splitlines()
    added_method = lines.index("    def added(self):") + 1
    typed = lines.index("    def typed(x):") + 1
    assert offline_review(batch).splitlines() == [
        f"m.py:{added_method}: public function `added` was added without a docstring",
        f"m.py:{typed}: public function `typed` was added without a docstring",
    ]


def test_diffs_of_paths_not_asked_for_are_dropped(tmp_path: Path) -> None:
    """Fail closed: should git ever answer with a file it was not asked for, it is dropped."""
    patch = (
        b"diff --git a/ok.py b/ok.py\n--- a/ok.py\n+++ b/ok.py\n@@ -1 +1 @@\n-a\n+b\n"
        b"diff --git a/.env b/.env\n--- a/.env\n+++ b/.env\n@@ -1 +1 @@\n-X\n+"
        + CANARY.encode()
        + b"\ndiff --git a/old.py b/ok2.py\nsimilarity index 90%\nrename from old.py\n"
        b"rename to ok2.py\n--- a/old.py\n+++ b/ok2.py\n@@ -1 +1 @@\n-c\n+d\n"
    )

    class StubGit:
        def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, bytes]:
            return 0, patch

    collector = commits_module._Collector(StubGit(), tmp_path, 10_000, None, True)  # type: ignore[arg-type]
    diffs = collector.diffs("abc", [("ok.py", "ok.py"), ("ok2.py", None)])
    assert [(d.path, d.old_path) for d in diffs] == [("ok.py", "ok.py")]
    assert [line.text for line in diffs[0].hunks[0].lines] == ["a", "b"]


def test_a_long_subject_is_cut_after_redaction(repo: Repo) -> None:
    repo.commit("x" * 190 + " " + AWS_KEY, {"a.py": "A = 1\n"})
    batch = commits_since(repo.path, None)
    assert batch is not None
    subject = batch.commits[0].subject
    assert len(subject) == 200 and subject.startswith("x" * 190 + " <redacted")
    assert "AKIAIOSF" not in batch.diff_text and batch.redactions == 1
