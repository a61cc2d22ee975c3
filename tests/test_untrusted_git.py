"""A repository is untrusted input: none of its settings may make drain-ls's git run a program.

Each case builds a real repository with commits, points one setting (in ``.git/config``, a
file that config includes, ``.gitattributes``, or the environment) at a script that leaves a
marker file, shows where it can that plain git does run the script (``proof``), then runs
the commit review in-process (``review.gather``) and ``drain-ls run --dry-run`` as a
subprocess: the marker must never appear, and the review must still have the diff (or be
off, with a clear reason, where git itself refuses the repository).
"""

from __future__ import annotations

import http.server
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drain_ls.engine.review import ReviewOptions, gather

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the marker scripts are sh")

ADDED = "value2 = 2"
OFFLINE = ("--backend", "offline")
SUBJECT = "add value"
# Every hook git knows (githooks(5)): each would leave the marker if git ran it.
HOOKS = (
    *("applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit", "pre-merge-commit"),
    *("prepare-commit-msg", "commit-msg", "post-commit", "pre-rebase", "post-checkout"),
    *("post-merge", "pre-push", "pre-receive", "update", "proc-receive", "post-receive"),
    *("post-update", "reference-transaction", "push-to-checkout", "pre-auto-gc", "post-rewrite"),
    *("sendemail-validate", "fsmonitor-watchman", "p4-changelist", "p4-prepare-changelist"),
    *("p4-post-changelist", "p4-pre-submit", "post-index-change"),
)
SIGNATURES = {
    "openpgp": "-----BEGIN PGP SIGNATURE-----\n\niQEzBAAB\n=abcd\n-----END PGP SIGNATURE-----",
    "x509": "-----BEGIN SIGNED MESSAGE-----\nMIAGCSqGSIb3\n-----END SIGNED MESSAGE-----",
    "ssh": "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----",
}


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No user or system git configuration, no editor, askpass or ssh of the user's."""
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.com")
    for name in (
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "GIT_EDITOR",
        "GIT_SEQUENCE_EDITOR",
        "VISUAL",
        "EDITOR",
        "GIT_PAGER",
        "PAGER",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_EXTERNAL_DIFF",
        "GIT_ALLOW_PROTOCOL",
        "GIT_PROTOCOL_FROM_USER",
        "GIT_TEST_ASSUME_DIFFERENT_OWNER",
        "GIT_DIR",
        "GIT_WORK_TREE",
    ):
        monkeypatch.delenv(name, raising=False)


@dataclass
class Scene:
    """A repository with two commits, the script that leaves the marker, and what a case
    adds: environment variables, the folder opened (``root``), git commands that prove the
    setting is live."""

    tmp: Path
    repo: Path
    script: str
    marker: Path
    env: dict[str, str] = field(default_factory=dict)
    root: Path | None = None
    proofs: list[list[str]] = field(default_factory=list)
    url: str = ""

    def git(self, *args: str, cwd: Path | None = None) -> str:
        done = subprocess.run(
            ["git", "-C", str(cwd or self.repo), *args],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout.strip()

    def config(self, *pairs: tuple[str, str]) -> None:
        for key, value in pairs:
            self.git("config", key, value)

    def write(self, name: str, text: str, executable: bool = False) -> Path:
        path = self.repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        if executable:
            path.chmod(0o755)
        return path


def make_scene(tmp_path: Path) -> Scene:
    marker = tmp_path / "MARKER"
    script = tmp_path / "evil.sh"
    script.write_text(f'#!/bin/sh\necho "$0 $*" >> "{marker}"\nexit 0\n')
    script.chmod(0o755)
    repo = tmp_path / "repo"
    repo.mkdir()
    scene = Scene(tmp_path, repo, str(script), marker)
    scene.git("init", "-q", "-b", "main")
    scene.config(("commit.gpgsign", "false"))
    scene.write("a.py", "value = 1\n")
    scene.git("add", "a.py")
    scene.git("commit", "-q", "-m", "start")
    scene.write("a.py", f"value = 1\n{ADDED}\n")
    scene.write("notes.txt", "notes\n")
    scene.git("add", "a.py", "notes.txt")
    scene.git("commit", "-q", "-m", SUBJECT)
    return scene


# --- the cases ----------------------------------------------------------------------------

DIFF = ["diff", "HEAD~1", "HEAD"]


def fsmonitor(s: Scene) -> None:
    s.config(("core.fsmonitor", s.script))
    s.proofs.append(["diff-tree", "-p", "HEAD"])


def evil_config_file(s: Scene) -> None:
    s.write("tools/evil.gitconfig", f"[core]\n\tfsmonitor = {s.script}\n")
    s.proofs.append(["diff-tree", "-p", "HEAD"])


def include_path(s: Scene) -> None:
    evil_config_file(s)
    s.config(("include.path", "../tools/evil.gitconfig"))


def include_if(s: Scene) -> None:
    evil_config_file(s)
    gitdir = (s.repo / ".git").resolve()
    s.config((f"includeIf.gitdir:{gitdir}.path", "../tools/evil.gitconfig"))


def worktree_config(s: Scene) -> None:
    s.config(("extensions.worktreeConfig", "true"))
    (s.repo / ".git" / "config.worktree").write_text(f"[core]\n\tfsmonitor = {s.script}\n")
    s.proofs.append(["diff-tree", "-p", "HEAD"])


def hooks_path(s: Scene) -> None:
    for folder in (s.repo / "hooks", s.repo / ".git" / "hooks"):
        folder.mkdir(exist_ok=True)
        for hook in HOOKS:
            shutil.copy(s.script, folder / hook)
    s.config(("core.hooksPath", str(s.repo / "hooks")))
    s.proofs.append(["checkout", "-q", "-b", "proof"])  # post-checkout, reference-transaction


def diff_external(s: Scene) -> None:
    s.config(("diff.external", s.script))
    s.proofs.append(DIFF)


def git_external_diff(s: Scene) -> None:
    s.env["GIT_EXTERNAL_DIFF"] = s.script
    s.proofs.append(DIFF)


def attributes(s: Scene, line: str = "* diff=evil filter=evil\n") -> None:
    s.write(".gitattributes", line)
    (s.repo / ".git" / "info").mkdir(exist_ok=True)
    (s.repo / ".git" / "info" / "attributes").write_text(line)


def diff_driver_command(s: Scene) -> None:
    attributes(s)
    s.config(("diff.evil.command", s.script))
    s.proofs.append(DIFF)


def diff_driver_textconv(s: Scene) -> None:
    attributes(s)
    s.config(("diff.evil.textconv", s.script))
    s.proofs.append(DIFF)
    s.proofs.append(["log", "-p", "--textconv", "-1"])


def attributes_file_textconv(s: Scene) -> None:
    s.write("tools/attributes", "*.py diff=evil\n")
    s.config(
        ("core.attributesFile", str(s.repo / "tools" / "attributes")),
        ("diff.evil.textconv", s.script),
    )
    s.proofs.append(DIFF)


def filter_clean_smudge(s: Scene) -> None:
    attributes(s)
    s.config(
        ("filter.evil.clean", s.script),
        ("filter.evil.smudge", s.script),
        ("filter.evil.required", "true"),
    )
    s.proofs.append(["hash-object", "a.py"])


def filter_process(s: Scene) -> None:
    attributes(s)
    s.config(("filter.evil.process", s.script), ("filter.evil.required", "true"))
    s.proofs.append(["hash-object", "a.py"])


def pagers(s: Scene) -> None:
    s.config(("core.pager", s.script), ("pager.color", "true"))
    for command in ("log", "diff-tree", "rev-parse", "rev-list", "merge-base", "hash-object"):
        s.config((f"pager.{command}", s.script))
    s.env.update(GIT_PAGER=s.script, PAGER=s.script)
    # A pager needs a terminal: nothing to prove without one.


def signed_head(s: Scene, kind: str) -> None:
    """HEAD replaced by the same commit with a (bogus) signature of ``kind``."""
    body = subprocess.run(
        ["git", "-C", str(s.repo), "cat-file", "commit", "HEAD"], check=True, capture_output=True
    ).stdout.decode()
    header, message = body.split("\n\n", 1)
    signature = SIGNATURES[kind].replace("\n", "\n ")
    signed = f"{header}\ngpgsig {signature}\n\n{message}"
    sha = subprocess.run(
        ["git", "-C", str(s.repo), "hash-object", "-t", "commit", "-w", "--stdin"],
        input=signed.encode(),
        check=True,
        capture_output=True,
    ).stdout.decode()
    s.git("update-ref", "refs/heads/main", sha.strip())
    s.config(("log.showSignature", "true"))
    s.proofs.append(["log", "-1", "--format=%H %G?"])


def gpg_program(s: Scene) -> None:
    signed_head(s, "openpgp")
    s.config(("gpg.program", s.script), ("gpg.openpgp.program", s.script))


def gpg_x509_program(s: Scene) -> None:
    signed_head(s, "x509")
    s.config(("gpg.x509.program", s.script))


def gpg_ssh_program(s: Scene) -> None:
    signed_head(s, "ssh")
    s.write("tools/allowed_signers", "test@example.com ssh-ed25519 AAAA\n")
    s.config(
        ("gpg.ssh.program", s.script),
        ("gpg.ssh.allowedSignersFile", str(s.repo / "tools" / "allowed_signers")),
        ("gpg.ssh.defaultKeyCommand", s.script),
    )


def editors(s: Scene) -> None:
    s.config(("core.editor", s.script), ("sequence.editor", s.script))
    s.proofs.append(["config", "--edit"])


def alternate_refs_command(s: Scene) -> None:
    other = s.tmp / "other"
    s.git("clone", "-q", "--bare", str(s.repo), str(other), cwd=s.tmp)
    (s.repo / ".git" / "objects" / "info" / "alternates").write_text(f"{other / 'objects'}\n")
    s.config(("core.alternateRefsCommand", s.script))
    s.proofs.append(["receive-pack", "."])  # advertises the alternates' refs


def upload_pack_hook(s: Scene) -> None:
    # git ignores this one in a repository's own configuration (only protected
    # configuration may set it): nothing to prove; kept against future commands.
    s.config(("uploadpack.packObjectsHook", s.script))


def aliases(s: Scene) -> None:
    # git never lets an alias replace a built-in command: kept against future commands.
    for command in ("log", "diff-tree", "rev-parse", "rev-list", "merge-base", "hash-object"):
        s.config((f"alias.{command}", f"!{s.script}"))


def trailer_command(s: Scene) -> None:
    s.config(("trailer.evil.key", "Evil"), ("trailer.evil.cmd", s.script))
    s.proofs.append(["interpret-trailers", "--trailer", "evil=x", ".git/config"])


def partial_clone(s: Scene, url: str) -> None:
    """A partial clone whose promisor remote is ``url``, with HEAD's ``a.py`` blob missing:
    git fetches missing objects from that remote, lazily."""
    blob = s.git("rev-parse", "HEAD:a.py")
    (s.repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    s.config(
        ("core.repositoryFormatVersion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.url", url),
        ("remote.origin.promisor", "true"),
        ("remote.origin.partialCloneFilter", "blob:none"),
    )
    s.proofs.append(["cat-file", "-p", blob])


def core_ssh_command(s: Scene) -> None:
    partial_clone(s, "ssh://example.invalid/repo.git")
    s.config(("core.sshCommand", s.script))


def git_ssh_command(s: Scene) -> None:
    partial_clone(s, "ssh://example.invalid/repo.git")
    s.env["GIT_SSH_COMMAND"] = s.script


def git_ssh(s: Scene) -> None:
    partial_clone(s, "ssh://example.invalid/repo.git")
    s.env["GIT_SSH"] = s.script


def ext_transport(s: Scene) -> None:
    partial_clone(s, f"ext::{s.script} %S")
    s.config(("protocol.ext.allow", "always"), ("protocol.allow", "always"))


def remote_upload_pack(s: Scene) -> None:
    partial_clone(s, str(s.tmp / "elsewhere"))
    s.config(("remote.origin.uploadpack", s.script), ("protocol.file.allow", "always"))


def git_proxy(s: Scene) -> None:
    partial_clone(s, "git://example.invalid/repo.git")
    s.config(("core.gitProxy", s.script), ("protocol.git.allow", "always"))


def remote_helper_on_relative_path(s: Scene) -> None:
    partial_clone(s, "evil::somewhere")
    s.config(("protocol.evil.allow", "always"))
    s.write(".bin/git-remote-evil", f'#!/bin/sh\nexec "{s.script}" "$@"\n', executable=True)
    s.env["PATH"] = f".bin{os.pathsep}{os.environ['PATH']}"


def git_on_relative_path(s: Scene) -> None:
    s.write(".bin/git", f'#!/bin/sh\nexec "{s.script}" "$@"\n', executable=True)
    s.env["PATH"] = f".bin{os.pathsep}{os.environ['PATH']}"
    # Python, not git, looks `git` up: nothing to prove with git.


def http_remote(s: Scene) -> None:
    partial_clone(s, f"{s.url}/repo.git")


def credential_helper(s: Scene) -> None:
    http_remote(s)
    s.config(("credential.helper", s.script))


def credential_url_helper(s: Scene) -> None:
    http_remote(s)
    s.config((f"credential.{s.url}.helper", s.script))


def core_askpass(s: Scene) -> None:
    http_remote(s)
    s.config(("core.askPass", s.script))


def git_askpass(s: Scene) -> None:
    http_remote(s)
    s.env["GIT_ASKPASS"] = s.script


def ssh_askpass(s: Scene) -> None:
    http_remote(s)
    s.env["SSH_ASKPASS"] = s.script


def embedded_bare_repository(s: Scene) -> None:
    """A bare repository inside the project (as a clone would bring it), opened as the
    folder: git must not use it at all."""
    bare = s.repo / "vendor" / "evil.git"
    s.git("clone", "-q", "--bare", str(s.repo), str(bare), cwd=s.tmp)
    blob = s.git("rev-parse", "HEAD:a.py")
    s.git("repack", "-q", "-a", "-d", cwd=bare)
    for pack in (bare / "objects" / "pack").iterdir():
        pack.unlink()  # every object gone: each one is fetched, lazily
    for key, value in (
        ("core.repositoryFormatVersion", "1"),
        ("extensions.partialClone", "origin"),
        ("remote.origin.url", "ssh://example.invalid/repo.git"),
        ("remote.origin.promisor", "true"),
        ("core.sshCommand", s.script),
    ):
        s.git("config", key, value, cwd=bare)
    s.root = bare
    s.proofs.append(["-C", str(bare), "cat-file", "-p", blob])


def owned_by_another_user(s: Scene) -> None:
    s.config(("core.fsmonitor", s.script))
    s.env["GIT_TEST_ASSUME_DIFFERENT_OWNER"] = "1"  # git's own switch for this check


@dataclass(frozen=True)
class Case:
    setup: Callable[[Scene], None]
    # None: the review still has the diff; else the reason it is off, as logged.
    off: str | None = None


CASES = {
    "core.fsmonitor": Case(fsmonitor),
    "include.path": Case(include_path),
    "includeIf.gitdir": Case(include_if),
    "config.worktree": Case(worktree_config),
    "core.hooksPath": Case(hooks_path),
    "diff.external": Case(diff_external),
    "GIT_EXTERNAL_DIFF": Case(git_external_diff),
    "diff.<driver>.command": Case(diff_driver_command),
    "diff.<driver>.textconv": Case(diff_driver_textconv),
    "core.attributesFile+textconv": Case(attributes_file_textconv),
    "filter.<driver>.clean/smudge": Case(filter_clean_smudge),
    "filter.<driver>.process": Case(filter_process),
    "core.pager/pager.<cmd>/GIT_PAGER": Case(pagers),
    "gpg.program": Case(gpg_program),
    "gpg.x509.program": Case(gpg_x509_program),
    "gpg.ssh.program": Case(gpg_ssh_program),
    "core.editor/sequence.editor": Case(editors),
    "core.alternateRefsCommand": Case(alternate_refs_command),
    "uploadpack.packObjectsHook": Case(upload_pack_hook),
    "alias.<builtin>": Case(aliases),
    "trailer.<token>.cmd": Case(trailer_command),
    "core.sshCommand (lazy fetch)": Case(core_ssh_command),
    "GIT_SSH_COMMAND (lazy fetch)": Case(git_ssh_command),
    "GIT_SSH (lazy fetch)": Case(git_ssh),
    "protocol.ext.allow (lazy fetch)": Case(ext_transport),
    "remote.<name>.uploadpack (lazy fetch)": Case(remote_upload_pack),
    "core.gitProxy (lazy fetch)": Case(git_proxy),
    "remote helper on a relative PATH (lazy fetch)": Case(remote_helper_on_relative_path),
    "git on a relative PATH": Case(git_on_relative_path),
    "credential.helper (lazy fetch, http)": Case(credential_helper),
    "credential.<url>.helper (lazy fetch, http)": Case(credential_url_helper),
    "core.askPass (lazy fetch, http)": Case(core_askpass),
    "GIT_ASKPASS (lazy fetch, http)": Case(git_askpass),
    "SSH_ASKPASS (lazy fetch, http)": Case(ssh_askpass),
    "safe.bareRepository": Case(embedded_bare_repository, off="safe.bareRepository"),
    "safe.directory": Case(owned_by_another_user, off="belongs to another user"),
}


class _Unauthorized(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="x"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_url() -> Iterator[str]:
    """An HTTP server that asks for a password on every request."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Unauthorized)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def prove(scene: Scene, root: Path) -> None:
    """Plain git does run the script with this setting (so that the test tests something)."""
    env = {**os.environ, **scene.env, "GIT_TERMINAL_PROMPT": "0"}
    for proof in scene.proofs:
        scene.marker.unlink(missing_ok=True)
        command = ["git", *proof] if proof[0] == "-C" else ["git", "-C", str(root), *proof]
        subprocess.run(
            command, cwd=root, env=env, capture_output=True, stdin=subprocess.DEVNULL, timeout=60
        )
        assert scene.marker.exists(), f"`{' '.join(proof)}` did not run the script"
    scene.marker.unlink(missing_ok=True)


def review_in_process(
    scene: Scene, root: Path, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    """The review's own path (``review.gather``), as a server started in the folder runs it."""
    with caplog.at_level(logging.INFO, logger="drain_ls"):
        batch = gather(root, None, ReviewOptions(), None, True)
    assert not scene.marker.exists(), scene.marker.read_text()
    if case.off is None:
        assert batch is not None, caplog.text
        assert [c.subject for c in batch.commits] == ["start", SUBJECT]
        assert f"+{ADDED}\n" in batch.diff_text
        assert batch.added_lines["a.py"][2] == ADDED
    else:
        assert batch is None
        assert "commit review: off:" in caplog.text and case.off in caplog.text, caplog.text


def review_dry_run(scene: Scene, root: Path, case: Case) -> None:
    """``drain-ls run --dry-run``, as a user would run it in the folder."""
    done = subprocess.run(
        [sys.executable, "-m", "drain_ls", "run", "--dry-run", "--json", *OFFLINE, "."],
        cwd=root,
        env={**os.environ, "DRAIN_LS_HOME": str(scene.tmp / "drain-home"), "COLUMNS": "160"},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert not scene.marker.exists(), scene.marker.read_text()
    assert done.returncode == 0, done.stderr
    previews = json.loads(done.stdout)["previews"]
    reviews = [p for p in previews if p["drain"] == "review"]
    if case.off is None:
        (review,) = reviews
        sent = json.dumps(review["request"])
        assert SUBJECT in sent and f"+{ADDED}" in sent
    else:
        assert reviews == []


@pytest.mark.parametrize("way", ["gather", "dry-run"])
@pytest.mark.parametrize("name", list(CASES))
def test_no_repository_setting_runs_a_program(
    name: str,
    way: str,
    tmp_path: Path,
    http_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    case = CASES[name]
    scene = make_scene(tmp_path)
    scene.url = http_url
    case.setup(scene)
    root = scene.root or scene.repo
    prove(scene, root)
    monkeypatch.chdir(root)
    for key, value in scene.env.items():
        monkeypatch.setenv(key, value)
    if way == "gather":
        review_in_process(scene, root, case, caplog)
    else:
        review_dry_run(scene, root, case)


# --- a `.git` that points to another repository -----------------------------------------

PRIVATE = 'PRIVATE_ALGO = "secret sauce"'
OUTSIDE = "points to a repository outside the workspace"


def run_git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def committed_repo(path: Path, name: str, text: str) -> Path:
    """A repository at ``path`` with one commit that adds ``name`` holding ``text``."""
    path.mkdir(parents=True)
    run_git(path, "init", "-q", "-b", "main")
    run_git(path, "config", "commit.gpgsign", "false")
    (path / name).write_text(text + "\n")
    run_git(path, "add", name)
    run_git(path, "commit", "-q", "-m", f"add {name}")
    return path


def review_of(root: Path, caplog: pytest.LogCaptureFixture) -> str | None:
    """The diff the review would send for ``root`` (None: no review), never private code."""
    with caplog.at_level(logging.INFO, logger="drain_ls"):
        batch = gather(root, None, ReviewOptions(), None, True)
    if batch is None:
        return None
    assert "secret sauce" not in batch.diff_text
    return batch.diff_text


def absolute_gitdir(tmp: Path, private: Path) -> Path:
    workspace = tmp / "ws"
    workspace.mkdir()
    (workspace / ".git").write_text(f"gitdir: {private / '.git'}\n")
    return workspace


def relative_gitdir(tmp: Path, private: Path) -> Path:
    workspace = tmp / "ws"
    workspace.mkdir()
    (workspace / ".git").write_text(f"gitdir: ../{private.name}/.git\n")
    return workspace


def common_dir(tmp: Path, private: Path, back_link: bool = False) -> Path:
    """A gitdir in the workspace (as a linked worktree's looks) whose ``commondir`` is the
    other repository's; with ``back_link``, its ``gitdir`` file names the workspace too."""
    workspace = tmp / "ws"
    fake = workspace / "fake"
    fake.mkdir(parents=True)
    (fake / "HEAD").write_text("ref: refs/heads/main\n")
    (fake / "commondir").write_text(f"../../{private.name}/.git\n")
    if back_link:
        (fake / "gitdir").write_text(f"{workspace / '.git'}\n")
    (workspace / ".git").write_text("gitdir: fake\n")
    return workspace


def common_dir_back_link(tmp: Path, private: Path) -> Path:
    return common_dir(tmp, private, back_link=True)


def symlinked_git_dir(tmp: Path, private: Path) -> Path:
    workspace = tmp / "ws"
    workspace.mkdir()
    (workspace / ".git").symlink_to(private / ".git")
    return workspace


def gitdir_of_a_containing_repository(tmp: Path, private: Path) -> Path:
    """A folder unpacked inside a repository, whose ``.git`` names that repository's: the
    review of the folder alone would cover the whole repository."""
    workspace = private / "vendor" / "lib"
    workspace.mkdir(parents=True)
    (workspace / ".git").write_text(f"gitdir: {private / '.git'}\n")
    return workspace


def symlinked_refs(tmp: Path, private: Path) -> Path:
    """A repository of the workspace's own whose objects and refs are the other one's."""
    workspace = committed_repo(tmp / "ws", "a.py", ADDED)
    dot_git = workspace / ".git"
    for name in ("objects", "refs"):
        shutil.rmtree(dot_git / name)
        (dot_git / name).symlink_to(private / ".git" / name)
    return workspace


ELSEWHERE = {
    "absolute gitdir": absolute_gitdir,
    "relative gitdir (../sibling)": relative_gitdir,
    "commondir": common_dir,
    "commondir with a forged back-link": common_dir_back_link,
    ".git symlink": symlinked_git_dir,
    "gitdir of a containing repository": gitdir_of_a_containing_repository,
    "objects and refs symlinks": symlinked_refs,
}


@pytest.mark.parametrize("name", list(ELSEWHERE))
def test_a_git_file_pointing_elsewhere_turns_the_review_off(
    name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    private = committed_repo(tmp_path / "private", "algo.py", PRIVATE)
    root = ELSEWHERE[name](tmp_path, private)
    # Plain git does read the other repository from the workspace.
    assert (
        "secret sauce"
        in subprocess.run(
            ["git", "-C", str(root), "log", "-p", "-1"], capture_output=True, text=True
        ).stdout
    )
    assert review_of(root, caplog) is None
    assert "commit review: off:" in caplog.text and OUTSIDE in caplog.text, caplog.text


def test_a_work_tree_outside_the_workspace_turns_the_review_off(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    private = committed_repo(tmp_path / "private", "algo.py", PRIVATE)
    workspace = committed_repo(tmp_path / "ws", "a.py", ADDED)
    run_git(workspace, "config", "core.worktree", str(private))
    assert review_of(workspace, caplog) is None
    assert "commit review: off:" in caplog.text and "outside the workspace" in caplog.text


def test_a_plain_repository_and_a_subfolder_are_reviewed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = committed_repo(tmp_path / "repo", "a.py", ADDED)
    (repo / "sub").mkdir()
    (repo / "sub" / "b.py").write_text("b = 1\n")
    run_git(repo, "add", "sub")
    run_git(repo, "commit", "-q", "-m", "add sub")
    assert f"+{ADDED}" in (review_of(repo, caplog) or "")
    below = review_of(repo / "sub", caplog)
    assert below is not None and "+b = 1" in below and ADDED not in below


def test_a_linked_worktree_is_reviewed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    repo = committed_repo(tmp_path / "repo", "a.py", ADDED)
    worktree = tmp_path / "feature"
    run_git(repo, "worktree", "add", "-q", "-b", "feature", str(worktree))
    (worktree / "sub").mkdir()
    (worktree / "sub" / "b.py").write_text("b = 1\n")
    run_git(worktree, "add", "sub")
    run_git(worktree, "commit", "-q", "-m", "add b")
    for root in (worktree, worktree / "sub"):
        diff = review_of(root, caplog)
        assert diff is not None and "+b = 1" in diff, caplog.text
    # A worktree inside the main one, as some keep them.
    inner = repo / "wt"
    run_git(repo, "worktree", "add", "-q", "-b", "inner", str(inner))
    assert f"+{ADDED}" in (review_of(inner, caplog) or ""), caplog.text


def test_a_submodule_is_reviewed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    library = committed_repo(tmp_path / "library", "lib.py", "lib = 1")
    superproject = committed_repo(tmp_path / "super", "a.py", ADDED)
    run_git(
        superproject,
        *("-c", "protocol.file.allow=always", "submodule", "add", "-q"),
        *(str(library), "vendor/library"),
    )
    run_git(superproject, "commit", "-q", "-m", "add library")
    submodule = superproject / "vendor" / "library"
    assert (submodule / ".git").is_file()
    assert "+lib = 1" in (review_of(submodule, caplog) or ""), caplog.text
    assert f"+{ADDED}" in (review_of(superproject, caplog) or ""), caplog.text
