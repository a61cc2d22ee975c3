"""Issue 15, items 4-6: what an untrusted repository can make drain-ls send.

4. files the repository ignores (every ``.gitignore`` from the repository root down, and
   ``$GIT_DIR/info/exclude``) with the workspace folder below the repository root;
5. the deny list matched case-insensitively;
6. secrets in more shapes redacted, ordinary code left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from drain_ls import files
from drain_ls.commits import commits_since
from drain_ls.privacy import Exclusions, redact

GIT = ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run([*GIT, "-C", str(cwd), *args], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def write(path: Path, text: str = "X = 1\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """``repo/`` (a real ``git init``), the workspace folder is ``repo/pkg/``."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root / ".gitignore", "pkg/generated_*.py\n*.local.py\n")
    with open(root / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write("pkg/mine.py\n")
    (root / "pkg").mkdir()
    return root


def git_ignores(root: Path, path: Path) -> bool:
    """What git itself says (the reference the decisions must agree with)."""
    done = subprocess.run(
        ["git", "-C", str(root), "check-ignore", "-q", "--no-index", str(path)],
        capture_output=True,
    )
    return done.returncode == 0


# --- 4. ignored files ---------------------------------------------------------------------


def test_ignore_rules_above_the_workspace_folder_apply(repo: Path) -> None:
    rules = Exclusions([repo / "pkg"])
    ignored = {
        "pkg/generated_models.py": "ignored by .gitignore",
        "pkg/settings.local.py": "ignored by .gitignore",
        "pkg/deep/er/db.local.py": "ignored by .gitignore",
        "pkg/mine.py": "ignored by .git/info/exclude",
    }
    for name, reason in ignored.items():
        path = write(repo / name)
        assert git_ignores(repo, path), name
        assert rules.why_excluded(path) == reason, name
    for name in ("pkg/app.py", "pkg/deep/generated_models.py", "pkg/local.py"):
        path = write(repo / name)
        assert not git_ignores(repo, path), name
        assert rules.why_excluded(path) is None, name


def test_gitignore_files_between_the_root_and_the_folder_apply(repo: Path) -> None:
    workspace = repo / "a" / "b"
    write(repo / "a" / ".gitignore", "b/private_*.py\n/b/top_only.py\n")
    write(workspace / ".gitignore", "/anchored.py\n")
    rules = Exclusions([workspace])
    for name, ignored in {
        "private_notes.py": True,
        "top_only.py": True,
        "c/top_only.py": False,  # anchored to a/: only a/b/top_only.py
        "anchored.py": True,
        "c/anchored.py": False,  # anchored to a/b/
        "app.py": False,
    }.items():
        path = write(workspace / name)
        assert git_ignores(repo, path) is ignored, name
        assert (rules.why_excluded(path) is not None) is ignored, name


def test_an_ignored_directory_cannot_be_reentered_by_a_negation(repo: Path) -> None:
    write(repo / "pkg" / ".gitignore", "vendor/\n!vendor/keep.py\nbuild/*\n!build/keep.py\n")
    rules = Exclusions([repo / "pkg"])
    vendored = write(repo / "pkg" / "vendor" / "keep.py")
    built = write(repo / "pkg" / "build" / "keep.py")
    assert git_ignores(repo, vendored) and not git_ignores(repo, built)
    assert rules.why_excluded(vendored) == "ignored by .gitignore"
    assert rules.why_excluded(built) is None
    assert rules.why_excluded(write(repo / "pkg" / "build" / "other.py")) is not None


def test_a_workspace_folder_git_ignores_sends_nothing(repo: Path) -> None:
    write(repo / ".gitignore", "scratch/\n")
    path = write(repo / "scratch" / "app.py")
    assert Exclusions([repo / "scratch"]).why_excluded(path) == "ignored by .gitignore"


def test_a_case_variant_of_an_ignored_name_is_ignored(repo: Path) -> None:
    # git with core.ignorecase (macOS, Windows) ignores it: the decision takes the stricter.
    path = write(repo / "pkg" / "Generated_Models.py")
    assert Exclusions([repo / "pkg"]).why_excluded(path) == "ignored by .gitignore"


def test_a_worktree_reads_info_exclude_from_the_common_directory(repo: Path) -> None:
    git(repo, "commit", "-q", "--allow-empty", "-m", "init")
    tree = repo.parent / "tree"
    git(repo, "worktree", "add", "-q", "--detach", str(tree))
    assert (tree / ".git").is_file()
    rules = Exclusions([tree / "pkg"])
    mine = write(tree / "pkg" / "mine.py")
    assert git_ignores(tree, mine)
    assert rules.why_excluded(mine) == "ignored by .git/info/exclude"
    assert rules.why_excluded(write(tree / "pkg" / "app.py")) is None


def test_a_submodule_git_file_is_followed_relative_to_itself(repo: Path) -> None:
    module = repo / ".git" / "modules" / "sub"
    write(module / "info" / "exclude", "mine.py\n")
    write(repo / "sub" / ".git", "gitdir: ../.git/modules/sub\n")
    rules = Exclusions([repo / "sub"])
    assert rules.why_excluded(write(repo / "sub" / "mine.py")) == "ignored by .git/info/exclude"
    assert rules.why_excluded(write(repo / "sub" / "app.py")) is None


def test_ignore_rules_are_reread_when_they_change(repo: Path) -> None:
    rules = Exclusions([repo / "pkg"])
    path = write(repo / "pkg" / "notes.py")
    assert rules.why_excluded(path) is None
    write(repo / "pkg" / ".gitignore", "notes.py\n")
    assert rules.why_excluded(path) == "ignored by .gitignore"


def _decide_without_blocking(rules: Exclusions, path: Path) -> str | None:
    answer: list[str | None] = []
    worker = threading.Thread(target=lambda: answer.append(rules.why_excluded(path)), daemon=True)
    worker.start()
    worker.join(10)
    assert answer, "why_excluded blocked"
    return answer[0]


@pytest.mark.parametrize("where", ["pkg/.gitignore", ".gitignore", ".git/info/exclude"])
def test_a_fifo_ignore_file_fails_closed_without_blocking(repo: Path, where: str) -> None:
    target = repo / where
    target.unlink(missing_ok=True)
    os.mkfifo(target)
    reason = _decide_without_blocking(Exclusions([repo / "pkg"]), write(repo / "pkg" / "app.py"))
    assert reason is not None and "not a regular file" in reason and "nothing under" in reason


def test_a_huge_or_unparsable_ignore_file_fails_closed(repo: Path) -> None:
    rules = Exclusions([repo / "pkg"])
    app = write(repo / "pkg" / "sub" / "app.py")
    other = write(repo / "pkg" / "other.py")
    huge = repo / "pkg" / "sub" / ".gitignore"
    huge.write_bytes(b"#" * (files.MAX_CONFIG_BYTES + 1))
    reason = rules.why_excluded(app)
    assert reason is not None and "too large" in reason
    assert rules.why_excluded(other) is None  # only what that file governs
    huge.write_text("[z-a].py\n")
    reason = rules.why_excluded(app)
    assert reason is not None and "cannot parse" in reason


def test_a_malformed_git_file_fails_closed(tmp_path: Path) -> None:
    write(tmp_path / "proj" / ".git", "not a gitdir line\n")
    reason = Exclusions([tmp_path / "proj"]).why_excluded(write(tmp_path / "proj" / "app.py"))
    assert reason is not None and "gitdir" in reason


# --- 5. the deny list, whatever the case ----------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ".ENV",
        ".Env.Local",
        "Credentials.py",
        "SECRETS.py",
        "ID_RSA.py",
        "Id_Ed25519",
        "KEY.PEM",
        "deploy/Server.Key",
        ".SSH/config.py",
        "conf/.AWS/cfg.py",
        ".GIT/hooks.py",
        "Legacy_io.py",  # the user's own privacy.exclude pattern: legacy_*.py
    ],
)
def test_the_deny_list_ignores_case(tmp_path: Path, name: str) -> None:
    rules = Exclusions([tmp_path], ("legacy_*.py",))
    assert rules.why_excluded(write(tmp_path / name)) == "matches the deny list or privacy.exclude"


def test_the_deny_list_still_lets_ordinary_files_through(tmp_path: Path) -> None:
    rules = Exclusions([tmp_path], ("legacy_*.py",))
    for name in ("app.py", "environment.py", "keys_of_dict.py", "tokenizer.py", "Models.py"):
        assert rules.why_excluded(write(tmp_path / name)) is None, name


# --- 6. redaction ----------------------------------------------------------------------------

RANDOM = "q8Zr2LmX9vT4wP1sK7"
PASSWORD = "hunter2hunter2"
BASIC = "dXNlcjpodW50ZXIyaHVudGVyMg=="  # user:hunter2hunter2


@pytest.mark.parametrize(
    ("text", "secret", "kind"),
    [
        (f'API_KEY = """{RANDOM}"""', RANDOM, "secret assigned to `API_KEY`"),
        (f"password = '''{PASSWORD}'''", PASSWORD, "secret assigned to `password`"),
        (f'TOKEN = """\n    {RANDOM}\n"""', RANDOM, "secret assigned to `TOKEN`"),
        (f'API_KEY: str = "{RANDOM}"', RANDOM, "secret assigned to `API_KEY`"),
        (f'settings = {{"password": "{PASSWORD}"}}', PASSWORD, "secret assigned to `password`"),
        (f"settings = {{'api_key': '{RANDOM}'}}", RANDOM, "secret assigned to `api_key`"),
        (f'settings = dict(password="{PASSWORD}")', PASSWORD, "secret assigned to `password`"),
        (
            f'db = connect(host="db", password="{PASSWORD}")',
            PASSWORD,
            "secret assigned to `password`",
        ),
        (f'headers = {{"X-Api-Key": "{RANDOM}"}}', RANDOM, "secret assigned to `X-Api-Key`"),
        (f'os.environ["API_TOKEN"] = "{RANDOM}"', RANDOM, "secret assigned to `API_TOKEN`"),
        (
            f'os.environ.setdefault("SECRET_KEY", "{PASSWORD}")',
            PASSWORD,
            "secret assigned to `SECRET_KEY`",
        ),
        (f'os.getenv("DB_PASSWORD", "{PASSWORD}")', PASSWORD, "secret assigned to `DB_PASSWORD`"),
        (f"# Authorization: Bearer {RANDOM}", RANDOM, "Authorization header"),
        (f'h = {{"Authorization": "Bearer {RANDOM}"}}', RANDOM, "Authorization header"),
        (f'h = {{"Authorization": "Basic {BASIC}"}}', BASIC, "Authorization header"),
        (f'req.headers["Authorization"] = "Token {RANDOM}"', RANDOM, "Authorization header"),
        (f'h = "Bearer {RANDOM}"', RANDOM, "Bearer token"),
        (f'h = "Basic {BASIC}"', BASIC, "Basic credentials"),
        (f'DB = "postgres://app:{PASSWORD}@db.internal:5432/app"', PASSWORD, "password in URL"),
        (f'R = "https://user:{RANDOM}@github.com/o/r.git"', RANDOM, "password in URL"),
        (f'CACHE = "redis://:{PASSWORD}@localhost:6379/0"', PASSWORD, "password in URL"),
        (f'R = "https://{RANDOM}@github.com/o/r.git"', RANDOM, "token in URL"),
        (
            'T = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"',
            "dozjgNryP4J3jVmNHl0w5N",
            "JSON web token",
        ),
    ],
)
def test_secret_shapes_are_redacted(text: str, secret: str, kind: str) -> None:
    source = "import os\n" + text + "\nAFTER = 1\n"
    redacted, found = redact(source)
    assert secret not in redacted
    assert [(r.kind, r.line) for r in found] == [(kind, 2 + text[: text.find(secret)].count("\n"))]
    assert secret not in repr(found)  # kind and line only, never the value
    assert f"<redacted: {kind}>" in redacted
    # The line structure is kept, and redacting again changes nothing.
    assert redacted.count("\n") == source.count("\n") and redacted.endswith("\nAFTER = 1\n")
    assert redact(redacted) == (redacted, [])


@pytest.mark.parametrize(
    "text",
    [
        'token_type = "bearer"',
        "password_field = models.CharField(max_length=128)",
        'url = "https://example.com/path"',
        'KEY_NAMES = ("a", "b")',
        'home = os.environ["HOME"]',
        'os.environ["PATH"] = "/usr/local/bin:/usr/bin"',
        'FIELDS = ["password", "password_confirm", "api_key"]',
        '__all__ = ["SortKey", "HTTPPasswordMgr", "KeyboardInterrupt"]',
        'register("password_reset", "accounts.views")',
        'key = "Europe/Dublin"',
        'cache_key = "module.function.result"',
        'TOKEN_URL = "https://oauth2.example.com/token"',
        'KEY_FILE = "certs/server2048.pem"',
        'key_re = r"(\\((?P<key>[^)]*)\\))?"',
        'dsn = f"postgres://{user}:{password}@{host}/db"',
        'dsn = "%s://%s:%s@%s" % parts',
        'EXAMPLE = "postgres://user:password@localhost/db"',
        'headers = {"Authorization": f"Bearer {token}"}',
        'headers = {"Authorization": "Bearer " + token}',
        'doc = "Use Basic authentication, or a Bearer token from the login endpoint."',
        'password = os.environ["DB_PASSWORD"]',
        'secret = "********"',
        'PASSWORD_HELP = """\nEnter the password you chose.\n"""',
        'api_key = """\n\n"""',
    ],
)
def test_ordinary_code_is_left_alone(text: str) -> None:
    assert redact(text) == (text, [])


def test_a_multi_line_secret_keeps_every_line() -> None:
    source = (
        "KEY = '''\n"
        "-----BEGIN OPENSSH PRIVATE KEY-----\r\n"
        "b3BlbnNzaC1rZXktdjEAAAAA\r\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
        "'''\n"
        "AFTER = 1\n"
    )
    redacted, found = redact(source)
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in redacted
    assert [(r.kind, r.line) for r in found] == [("private key", 2)]
    assert redacted.splitlines()[1:4] == [
        "<redacted: private key>",
        "<redacted: continued>",
        "<redacted: continued>",
    ]
    assert redacted.splitlines()[4:] == ["'''", "AFTER = 1"]
    assert redacted.count("\r\n") == source.count("\r\n")


def test_commit_review_redacts_the_new_shapes_and_keeps_line_numbers(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    write(root / "app.py", "import os\n")
    git(root, "add", "app.py")
    git(root, "commit", "-q", "-m", "init")
    write(
        root / "app.py",
        "import os\n"
        'API_KEY = """\n'
        f"{RANDOM}\n"
        '"""\n'
        f'os.environ.setdefault("SECRET_KEY", "{PASSWORD}")\n'
        f'DB = "postgres://app:{PASSWORD}@db/app"\n'
        f'HEADERS = {{"Authorization": "Bearer {RANDOM}"}}\n'
        "AFTER = 1\n",
    )
    git(root, "commit", "-q", "-am", "settings")
    batch = commits_since(root, None)
    assert batch is not None
    assert RANDOM not in batch.diff_text and PASSWORD not in batch.diff_text
    added = batch.added_lines["app.py"]
    assert added[3] == "<redacted: secret assigned to `API_KEY`>"
    assert added[8] == "AFTER = 1"
    assert batch.redactions == 4


# --- end to end: what a dry run would send --------------------------------------------------


def test_the_dry_run_lists_no_ignored_or_case_variant_denied_file(repo: Path) -> None:
    workspace = repo / "pkg"
    write(
        workspace / "pyproject.toml",
        '[tool.drain-ls.llm]\nenabled = true\nbackend = "anthropic"\n',
    )
    body = 'def read():\n    return "CANARY-{}"\n'
    names = ["app.py", "mine.py", "generated_api.py", "Credentials.py", "SECRETS.py", "ID_RSA.py"]
    for index, name in enumerate(names):
        write(workspace / name, body.format(index))
    home = repo.parent / "home"
    done = subprocess.run(
        [sys.executable, "-m", "drain_ls", "run", "--dry-run", "--json", "."],
        capture_output=True,
        text=True,
        cwd=workspace,
        env={**os.environ, "DRAIN_LS_HOME": str(home)},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    listed = {Path(p["file"]).name for p in data["previews"]}
    assert "app.py" in listed
    assert listed.isdisjoint(names[1:]), listed
    assert "CANARY-0" in done.stdout
    for index in range(1, len(names)):
        assert f"CANARY-{index}" not in done.stdout
