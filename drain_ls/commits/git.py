"""Running git on a project's repository: read-only, and nothing in the repository may make
git run a program or read another repository (``_Git``, ``_check_repository``).

A repository is untrusted input (a cloned or unpacked project): its ``.git/config``, the
files that config includes (``include.path``, ``includeIf``, ``config.worktree``) and its
``.gitattributes`` must never make git run a program. Every call runs with
(``_Git``, ``_git_env``, ``_GIT_CONFIG``, ``_DIFF_OPTIONS``):

- ``-c`` settings, which take precedence over every configuration file:
  ``core.fsmonitor=`` (empty: off; the hook runs whenever ``diff-tree`` reads the index);
  ``core.hooksPath=/dev/null`` (no hook can exist there); ``core.editor=:`` and
  ``sequence.editor=:`` (git's "no editor"); ``core.askPass=`` (empty: no askpass program,
  not even ``SSH_ASKPASS``); ``credential.helper=`` (empty: the list of helpers, URL-specific
  ones included, is reset); ``core.sshCommand``, ``core.alternateRefsCommand``,
  ``gpg.program``, ``gpg.openpgp.program``, ``gpg.x509.program``, ``gpg.ssh.program`` and
  ``gpg.ssh.defaultKeyCommand`` set to ``/dev/null`` (nothing that can be run), with
  ``log.showSignature=false`` and a ``log`` format that needs no signature;
  ``protocol.allow=never`` and ``protocol.<name>.allow=never`` for file, git, ssh, http,
  https, ftp, ftps and ext (a partial clone fetches missing objects lazily from its
  promisor remote: that would run ``core.sshCommand``, ``core.gitProxy``,
  ``remote.<name>.uploadpack``, an ``ext::`` command, a remote helper, or a credential
  helper and askpass for http); ``safe.bareRepository=explicit`` (a bare repository, which
  a project can carry in its files, config included, is not used when opened as a folder:
  the review is then off); ``gc.auto=0`` and ``maintenance.auto=false``;
- flags for the settings whose names vary: ``--no-ext-diff`` (``diff.external``,
  ``diff.<driver>.command``) and ``--no-textconv`` (``diff.<driver>.textconv``) on every
  ``diff-tree`` and ``log``; ``--no-filters`` on ``hash-object`` (``filter.<driver>.*``
  run only when content moves between the working tree and the object database, which
  ``diff-tree`` never does for a file a filter applies to); ``--no-pager`` (``core.pager``,
  ``pager.<cmd>``);
- an environment without ``GIT_CONFIG_PARAMETERS``, ``GIT_CONFIG_COUNT``,
  ``GIT_CONFIG_KEY_*``/``GIT_CONFIG_VALUE_*``, ``GIT_CONFIG``, ``GIT_EXTERNAL_DIFF``,
  ``GIT_SSH``, ``GIT_SSH_COMMAND``, ``GIT_SSH_VARIANT``, ``GIT_PROXY_COMMAND`` and the
  variables that point git at another repository, and with ``GIT_CONFIG_NOSYSTEM=1``,
  ``GIT_ALLOW_PROTOCOL=`` (empty: no transport at all, remote helpers included),
  ``GIT_PROTOCOL_FROM_USER=0``, ``GIT_NO_LAZY_FETCH=1``, ``GIT_TERMINAL_PROMPT=0``,
  ``GIT_ASKPASS=`` and ``SSH_ASKPASS=`` (empty: none), ``GIT_EDITOR=:``,
  ``GIT_SEQUENCE_EDITOR=:``, ``GIT_PAGER=cat`` and ``PAGER=cat`` (git's "no pager");
- ``git`` found on the absolute entries of ``PATH`` only, and a ``PATH`` without relative
  entries for git's own children (a relative entry would be looked up in the repository).

Not neutralised, because git itself ignores them in a repository's configuration or our
commands never reach them: ``uploadpack.packObjectsHook`` (only read from protected
configuration), ``alias.*`` (an alias never replaces a built-in command), ``merge.<driver>.*``,
``difftool.*``, ``mergetool.*``, ``trailer.<token>.cmd``, ``browser.*``, ``man.*``,
``submodule.<name>.update``, hooks defined in configuration by newer gits (none of these
commands fires a hook). A repository that belongs to another user is refused by git
(``safe.directory``; only the user's global configuration can allow it, the system one is
not read): the review is then off, with that reason logged.

A project's ``.git`` can also name another repository on disk (a ``.git`` file's
``gitdir:``, absolute or ``../sibling``, a ``commondir`` file in that git dir, a symbolic
link, ``core.worktree``), which no clone makes but an unpacked archive can: its commits must
not be sent under this workspace's consent. ``_check_repository`` asks git where the git dir,
common dir and work tree are before any commit is read, and the review is off (logged) unless
they are the workspace's own: plain repositories, a folder of one, submodules and linked
worktrees (git's back-link) pass.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

# Variables that would point git elsewhere than ``root``, change its output, or run a program
# (see the module docstring); ``_git_env`` sets some of them again, to harmless values.
_SCRUBBED_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_EXTERNAL_DIFF",
    "GIT_DIFF_OPTS",
    "GIT_PAGER",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT",
    "GIT_PROXY_COMMAND",
    "SSH_ASKPASS_REQUIRE",
)
_SCRUBBED_ENV_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")
_NOWHERE = os.devnull  # neither a directory nor a program: a setting pointed there runs nothing
_GIT_CONFIG = (
    "core.quotepath=off",
    "log.showSignature=false",
    "diff.suppressBlankEmpty=false",
    "diff.noprefix=false",
    "diff.mnemonicPrefix=false",
    "i18n.logOutputEncoding=UTF-8",
    # Nothing a repository configures may run a program (the module docstring says why).
    "core.fsmonitor=",  # empty: off in every git ("false" named a hook program before 2.36)
    f"core.hooksPath={_NOWHERE}",
    "core.editor=:",
    "sequence.editor=:",
    "core.askPass=",
    "credential.helper=",
    f"core.sshCommand={_NOWHERE}",
    f"core.alternateRefsCommand={_NOWHERE}",
    f"gpg.program={_NOWHERE}",
    f"gpg.openpgp.program={_NOWHERE}",
    f"gpg.x509.program={_NOWHERE}",
    f"gpg.ssh.program={_NOWHERE}",
    f"gpg.ssh.defaultKeyCommand={_NOWHERE}",
    "protocol.allow=never",
    *(
        f"protocol.{name}.allow=never"
        for name in ("file", "git", "ssh", "http", "https", "ftp", "ftps", "ext")
    ),
    "safe.bareRepository=explicit",
    "gc.auto=0",
    "maintenance.auto=false",
)
# Words of git's refusal to read a repository, and why the review is then off.
_NOT_OWNED = (
    "off: git does not trust this repository, which belongs to another user "
    "(see git's safe.directory)"
)
_REFUSALS = (
    ("detected dubious ownership", _NOT_OWNED),
    ("is owned by someone else", _NOT_OWNED),  # the words of older git
    (
        "safe.bareRepository",
        "off: this folder is a bare repository, which git is told to use only when named "
        "explicitly (safe.bareRepository)",
    ),
)
_DIFF_OPTIONS = (
    "-r",
    "--no-commit-id",
    "--relative",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--src-prefix=a/",
    "--dst-prefix=b/",
)


class _GitError(Exception):
    """git is missing, failed, timed out, or answered something unexpected."""


def _absolute_path(path: str) -> str:
    """``PATH`` without its relative entries (an empty one is the current directory)."""
    return os.pathsep.join(entry for entry in path.split(os.pathsep) if os.path.isabs(entry))


def _git_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _SCRUBBED_ENV and not k.startswith(_SCRUBBED_ENV_PREFIXES)
    }
    env.update(
        PATH=_absolute_path(os.environ.get("PATH", os.defpath)),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_ALLOW_PROTOCOL="",  # no transport at all: a lazy fetch would run programs
        GIT_PROTOCOL_FROM_USER="0",
        GIT_NO_LAZY_FETCH="1",  # git 2.45 and later
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
        GIT_EDITOR=":",
        GIT_SEQUENCE_EDITOR=":",
        GIT_PAGER="cat",
        PAGER="cat",
        GIT_OPTIONAL_LOCKS="0",  # never take the index lock the user's own git needs
        LC_ALL="C",
        LANGUAGE="C",
    )
    return env


class _Git:
    """Runs git in ``root`` within one overall deadline."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.root = root
        self.deadline = time.monotonic() + timeout
        self.env = _git_env()
        # Never a `git` of a relative PATH entry: that would be looked up in the workspace.
        self.program = shutil.which("git", path=self.env["PATH"])

    def run(self, *args: str, ok: tuple[int, ...] = (0,)) -> tuple[int, bytes]:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise _GitError("timed out")
        if self.program is None:
            raise _GitError("git is not installed")
        command = [self.program, "--no-pager", "--literal-pathspecs", "-C", str(self.root)]
        for setting in _GIT_CONFIG:
            command += ["-c", setting]
        command += args
        try:
            done = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                env=self.env,
                timeout=remaining,
                check=False,
            )
        except FileNotFoundError:
            raise _GitError("git is not installed") from None
        except subprocess.TimeoutExpired:
            raise _GitError(f"`git {args[0]}` timed out") from None
        except OSError as exc:
            raise _GitError(f"`git {args[0]}` could not run: {exc}") from None
        if done.returncode not in ok:
            message = done.stderr.decode("utf-8", "replace").strip().splitlines()
            reason = message[0] if message else f"exit status {done.returncode}"
            for sign, refusal in _REFUSALS:
                if sign in reason:
                    raise _GitError(refusal)
            raise _GitError(f"`git {args[0]}` failed: {reason}")
        return done.returncode, done.stdout


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _outside(root: Path, path: Path) -> _GitError:
    return _GitError(f"off: {root / '.git'} points to a repository outside the workspace ({path})")


def _check_repository(git: _Git, root: Path) -> None:
    """Raises ``_GitError`` (the review is off) unless the repository git finds for ``root``
    is the workspace's own: a ``.git`` file (or symlink, or a ``commondir`` in the git dir)
    of an unpacked archive can name any repository on disk, whose commits must not be sent.

    With ``top`` the work tree (which must be ``root`` or an ancestor of it: ``core.worktree``
    may name another folder), the git dir and the common dir (real paths) must each be

    - inside ``root`` (the workspace's own files), or
    - ``<top>/.git`` (``root`` is a folder of the repository), or
    - inside ``<a>/.git/modules`` for an ancestor ``a`` of ``top`` (a submodule's);

    or the git dir is ``<common>/worktrees/<name>``, outside ``root``, whose ``gitdir`` file
    (git's back-link from a linked worktree) names ``<top>/.git``. ``objects``, ``refs``,
    ``packed-refs``, ``reftable`` and ``HEAD`` of those dirs, and any loose ref, must not be
    symbolic links that lead out of them."""
    _, out = git.run("rev-parse", "--absolute-git-dir", "--git-common-dir", "--show-toplevel")
    lines = os.fsdecode(out).split("\n")
    if len(lines) != 4 or lines[3] or not all(lines[:3]):  # a newline in a path, or no top
        raise _GitError("off: git did not tell where the repository and its work tree are")
    real_root = root.resolve()
    git_dir, common, top = ((real_root / line).resolve() for line in lines[:3])
    if not _inside(real_root, top):
        raise _GitError(
            f"off: the repository's work tree ({top}) is outside the workspace ({real_root})"
        )

    def own(path: Path) -> bool:
        if _inside(path, real_root) or path == top / ".git":
            return True
        return any(
            path.is_relative_to(above / ".git" / "modules") and path != above / ".git" / "modules"
            for above in top.parents
        )

    if not (own(git_dir) and own(common)):
        linked = (
            git_dir.parent == common / "worktrees"
            and not _inside(git_dir, real_root)  # else the back-link is the archive's own
            and _back_link(git_dir) == top / ".git"
        )
        if not linked:
            raise _outside(top, common if own(git_dir) else git_dir)
    for folder in dict.fromkeys((git_dir, common)):
        _check_links(top, folder)


def _check_links(top: Path, folder: Path) -> None:
    """Raises ``_GitError`` when what git reads commits from in the git dir ``folder``
    (``HEAD``, ``objects``, ``refs``, ``packed-refs``, ``reftable``, a loose ref) is a
    symbolic link that leads out of it."""
    for name in ("HEAD", "objects", "refs", "packed-refs", "reftable"):
        target = (folder / name).resolve()
        if not _inside(target, folder):
            raise _outside(top, target)
    for above, _, files in os.walk(folder / "refs"):  # never into a symlinked folder
        for name in files:
            link = Path(above, name)
            if link.is_symlink() and not _inside(target := link.resolve(), folder):
                raise _outside(top, target)


def _back_link(git_dir: Path) -> Path | None:
    """Where a linked worktree's git dir says the worktree's ``.git`` file is (its folder a
    real path), or None."""
    try:
        text = (git_dir / "gitdir").read_text("utf-8").strip()
    except (OSError, UnicodeError):
        return None
    path = git_dir / text  # absolute, or relative to the git dir (extensions.relativeWorktrees)
    return path.parent.resolve() / path.name


def _resolve(git: _Git, revision: str) -> str | None:
    code, out = git.run("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}", ok=(0, 1))
    return out.decode("ascii", "replace").strip() if code == 0 else None
