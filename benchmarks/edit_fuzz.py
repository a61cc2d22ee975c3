"""Differential fuzzing of the editor's incremental check against a fresh check, on real files
with the edits users make.

    python benchmarks/edit_fuzz.py [--seed N] [--sessions N | --minutes M] [--root DIR ...]
        [--ops N] [--out DIR] [--minimise-seconds S] [--replay CASE.json]

A session opens a real file (UTF-8, 50 to 5,000 lines, from this interpreter's standard library
with its tests, and under each ``--root``) as a ``Document`` with an ``IncrementalChecker``, in a
configuration drawn from its seed (``Config``: chunk size, batched keystrokes, fix factories, the
server's provisional checks, target version, CRLF, the token scan's tree query instead of its C
scan), and makes ``--ops`` operations of a user (``User``): a token or a line typed a character
at a time, a line cut and pasted, commented, indented, a name renamed, a block pasted from
another file, a docstring retyped, a bracket opened near the top and closed later, a lone CR in
a CRLF file, an undo, and the mend of a syntax error (the last text without one comes back).

After every check the incremental findings must equal ``check_source``'s on the same tree (E999
included) and, when the tree has no error, on a fresh parse; no E999 but a version error where
this interpreter compiles the text (targets not newer than it); the C scan and the tree query
agree (``cross_scan``); nothing raises. The first mismatch ends the session. The first two of
each ``Failure.signature`` are minimised (fewer steps, checks, lines, a simpler configuration);
every case goes to ``--out`` as JSON, seeded by ``--seed`` and the session's index, which
``--replay`` runs again (exit status 1 while it fails). A summary table ends the run.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import sys
import sysconfig
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from unittest.mock import patch

from drain_ls.analysis import forest, token_scan
from drain_ls.analysis.check_settings import CheckSettings
from drain_ls.analysis.checker import check_source
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.model import Finding
from drain_ls.analysis.native import NATIVE
from drain_ls.analysis.targets import parse_target_version
from drain_ls.lsp.documents import Document

PATH = "/tmp/m.py"
TARGETS = ("py39", "py311", "py314")
TOKENS = [
    *["(", ")", "[", "]", "{", "}", '"', "'", '"""', "'''", ":", ",", " = ", ".", "#", "\\"],
    *["def f(", "from x import (", "@decorator", "*a", "**k", "x, y: int", "lambda: y"],
    *["import os", "return ", "yield ", "await ", "async ", "if x:", "else:", "except* E:"],
    *["match x:", "case _:", "global y", "nonlocal y", "del x", "print(", 'f"{x}"', "é"],
    *["type T = int", "__all__ = ['f']", "  # noqa", "from __future__ import annotations"],
    *["\n", "\n    ", "\t", " "],
]

# A step: bytes [start, end) become the text, then its action: "" (typing on), "check" (a
# keystroke's check: ``provisional`` in server mode while the tree has an error) or "pause"
# (the user pauses: the full check).
Step = tuple[int, int, str, str]
Edit = tuple[int, int, str]


@dataclass(frozen=True)
class Config:
    """How one session edits and checks."""

    chunk_lines: int = 100
    batch: bool = False
    fix_factories: bool = False
    server: bool = False
    target: str = "py314"
    crlf: bool = False
    tree_query: bool = False  # the token scan's tree query instead of the C scan
    cross_scan: bool = False  # the C scan and the tree query compared on fresh parses

    @classmethod
    def draw(cls, rng: random.Random) -> Config:
        """A configuration at random."""
        return cls(
            chunk_lines=rng.choice([100, 100, 50, 3, 1]),
            batch=rng.random() < 0.3,
            fix_factories=rng.random() < 0.5,
            server=rng.random() < 0.5,
            target=rng.choice(TARGETS),
            crlf=rng.random() < 0.2,
            tree_query=rng.random() < 0.2,
            cross_scan=NATIVE is not None and rng.random() < 0.2,
        )


@dataclass
class Failure:
    """What went wrong (after the last step made)."""

    kind: str
    detail: list[str]
    codes: tuple[str, ...] = ()

    @property
    def signature(self) -> tuple[str, ...]:
        """What a smaller case must still show to be the same failure."""
        return (self.kind, *self.codes)


@dataclass
class Case:
    """A failing session: its file's text (in CRLF if so configured), configuration, steps."""

    file: str
    seed: int
    session: int
    config: Config
    text: str
    steps: list[Step]
    failure: Failure

    def to_json(self) -> str:
        """The case as ``--replay`` reads it."""
        return json.dumps(asdict(self), indent=1, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Case:
        """A case that ``to_json`` wrote."""
        data = json.loads(text)
        failure = data.pop("failure")
        failure = Failure(**{**failure, "codes": tuple(failure["codes"])})
        steps: list[Step] = [(s[0], s[1], s[2], s[3]) for s in data.pop("steps")]
        config = Config(**data.pop("config"))
        return cls(**data, config=config, steps=steps, failure=failure)


def shape(findings: list[Finding]) -> list[tuple[object, ...]]:
    """What is compared of each finding."""
    return [(f.code, f.start, f.end, f.message, f.noqa_offsets, f.data) for f in findings]


def compiles(source: bytes) -> bool:
    """Whether this interpreter compiles ``source``: parses it (fast to fail), then compiles
    it (the compiler has errors of its own, ``*f()`` or ``return`` outside a function)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<m>", "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
            compile(source, "<m>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _differ(kind: str, got: list[Finding], want: list[Finding], names: str) -> Failure | None:
    """The difference of two checks' findings, if any (``names``: "got/want")."""
    if shape(got) == shape(want):
        return None
    a, b = Counter(map(repr, shape(got))), Counter(map(repr, shape(want)))
    only = set(a - b) | set(b - a)
    codes = tuple(sorted({f.code for f in [*got, *want] if repr(shape([f])[0]) in only}))
    first, second = names.split("/")
    detail = [f"{first}: {s}" for s in (a - b).elements()]
    detail += [f"{second}: {s}" for s in (b - a).elements()]
    if codes == ("E999",):
        kind += "-e999"  # only the syntax error differs
    return Failure(kind, detail or ["the same findings in another order"], codes)


def _crash(exc: Exception) -> Failure:
    """An exception, the same failure as another of its type raised in the same function."""
    lines = traceback.format_exception(exc)
    frames = re.findall(r'File "[^"]*?([^/"]+)", line \d+, in (\S+)', "".join(lines))
    where = tuple(f"{name}:{function}" for name, function in frames[-1:])
    return Failure("exception", [s.rstrip() for s in lines[-12:]], (type(exc).__name__, *where))


@contextmanager
def configured(config: Config) -> Iterator[None]:
    """The module settings a configuration patches, for the length of a session."""
    chunks = patch.object(forest, "CHUNK_LINES", config.chunk_lines)
    with chunks, patch.object(token_scan, "_native", None if config.tree_query else NATIVE):
        yield


class Session:
    """One document edited step by step, each check compared with fresh ones."""

    def __init__(self, text: bytes, config: Config) -> None:
        self.config = config
        self.settings = CheckSettings(target_version=parse_target_version(config.target))
        self.doc = Document("file:///m.py", text, 1)
        self.checker = IncrementalChecker(PATH, self.settings, fix_factories=config.fix_factories)
        self.stats: Counter[str] = Counter()

    def open(self) -> Failure | None:
        """The opening check (then, the server's way, the cut into chunks)."""
        failure = self._check()
        if self.config.server:
            self.doc.tree.settle()
        return failure

    def step(self, step: Step) -> Failure | None:
        """Make one step (``run`` keeps it inside the text, on character boundaries)."""
        doc, action, server = self.doc, step[3], self.config.server
        doc.replace(step[0], step[1], step[2])
        if action == "check" and server and doc.tree.root_node.has_error:
            shown = self.checker.provisional(doc.source, doc.tree, doc.changes)
            self.stats["provisional checks"] += shown is not None
            if shown is not None:
                return None  # shown at once; the changes wait for the full check
        if action == "pause" and server:
            doc.verify_syntax()
        return self._check() if action else None

    def _check(self) -> Failure | None:
        doc, settings = self.doc, self.settings
        found = self.checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        source, tree = doc.source, doc.tree
        if doc.not_analysed is not None or b"\0" in source:
            return None  # the server does not analyse it either
        fresh = check_source(source, PATH, settings, tree, tolerant=True)
        failure = _differ("tree", found, fresh, "incremental/fresh")
        clean = not tree.root_node.has_error
        self.stats.update(["checks"] if clean else ["checks", "checks of a tree with an error"])
        if clean and failure is None:
            whole = check_source(source, PATH, settings, tolerant=True)
            failure = _differ("whole", found, whole, "incremental/fresh parse")
            if failure is None and self.config.cross_scan and NATIVE is not None:
                with patch.object(
                    token_scan, "_native", NATIVE if self.config.tree_query else None
                ):
                    other = check_source(source, PATH, settings, tolerant=True)
                names = "tree query/C scan" if self.config.tree_query else "C scan/tree query"
                failure = _differ("scan-query", whole, other, names)
        target = settings.target_version
        if failure is None and target.value <= sys.version_info.minor:
            versioned = f"on Python {target}"  # a version error: the target is older
            errors = [f for f in found if f.code == "E999" and versioned not in f.message]
            if errors and compiles(source):
                failure = Failure("false-e999", [repr(shape(errors))], ("E999",))
        return failure


def _snap(source: bytes, offset: int) -> int:
    """``offset`` inside ``source``, moved back to the start of its character."""
    offset = max(0, min(offset, len(source)))
    while 0 < offset < len(source) and source[offset] & 0xC0 == 0x80:
        offset -= 1
    return offset


@dataclass
class Outcome:
    """What a session did, up to its failure if any."""

    steps: list[Step]
    failure: Failure | None
    stats: Counter[str]


def run(text: str, config: Config, steps: Callable[[Session], Iterable[Step]]) -> Outcome:
    """A session of ``text`` making ``steps(session)`` (read lazily: they may look at it)."""
    outcome = Outcome([], None, Counter())
    with configured(config):
        try:
            session = Session(text.encode(), config)
            outcome = Outcome([], session.open(), session.stats)
            for step in steps(session) if outcome.failure is None else ():
                start = _snap(session.doc.source, step[0])
                end = max(start, _snap(session.doc.source, step[1]))
                outcome.steps.append((start, end, step[2], step[3]))
                outcome.failure = session.step(outcome.steps[-1])
                if outcome.failure is not None:
                    break
        except Exception as exc:
            outcome.failure = _crash(exc)
    outcome.stats["edits"] += len(outcome.steps)
    return outcome


# -- The user ---------------------------------------------------------------------------------


def _lines(source: bytes) -> list[tuple[int, int, int]]:
    """(start, end of its text, end with its line break) of each line."""
    lines, at = [], 0
    for line in source.splitlines(keepends=True):
        lines.append((at, at + len(line.rstrip(b"\r\n")), at + len(line)))
        at += len(line)
    return lines or [(0, 0, 0)]


def _typed(at: int, text: str) -> list[Edit]:
    """The keystrokes that type ``text`` at ``at`` (a CRLF line break is one)."""
    edits = []
    for key in re.findall(r"\r\n|.", text, re.DOTALL):
        edits.append((at, at, key))
        at += len(key.encode())
    return edits


class User:
    """The operations of one session, drawn from its seed, on the current text."""

    def __init__(self, rng: random.Random, source: bytes, pool: Sequence[Path]) -> None:
        self.rng, self.pool = rng, pool
        self.newline = "\r\n" if b"\r\n" in source else "\n"
        words = set(re.findall(rb"[A-Za-z_][A-Za-z0-9_]{2,}", source))
        self.words = sorted(w.decode() for w in words) or ["name"]
        self.snapshots: list[bytes] = []  # the text before each of the last operations
        self.opener: tuple[int, int, str] | None = None  # (start, length, closer)
        self.clean = source
        ops = {self.type_token: 25, self.type_line: 10, self.cut_and_paste: 8, self.comment: 6}
        ops |= {self.indent: 6, self.rename: 8, self.paste_block: 6, self.retype_docstring: 5}
        ops |= {self.open_bracket: 4, self.undo: 6}
        self.tokens = TOKENS + ["\r"] * 5 * (self.newline == "\r\n")  # a lone CR, in CRLF
        self.ops: list[Callable[[bytes], list[Edit]]] = list(ops)
        self.weights = list(ops.values())

    def op(self, source: bytes, broken: bool) -> list[Edit]:
        """The edits of the next operation (``broken``: the text has a syntax error, which
        the user often mends: the text of the last operation that had none comes back)."""
        opener, self.opener = self.opener, None
        self.clean = self.clean if broken else source
        if broken and self.rng.random() < 0.5:
            edits = self.undo(source, self.clean)
        elif opener is not None and self.rng.random() < 0.3:
            edits = _typed(opener[0] + opener[1], opener[2])  # close the bracket
        else:
            edits = self.rng.choices(self.ops, self.weights)[0](source)
            for start, end, text in edits:  # the last bracket opened moves, or goes
                if opener is not None and start < opener[0] + opener[1]:
                    moved = (opener[0] + len(text.encode()) - (end - start), *opener[1:])
                    opener = moved if end <= opener[0] else None
            self.opener = self.opener or opener  # a bracket just opened, or the one before
        self.snapshots = [*self.snapshots[-7:], source]
        return edits

    def _line(self, source: bytes) -> tuple[int, int, int]:
        return self.rng.choice(_lines(source))

    def _position(self, source: bytes) -> int:
        """The start, the indentation's end, the end, or any character of a line."""
        start, end, _ = self._line(source)
        text = source[start:end].decode()
        column = self.rng.choice([0, len(text) - len(text.lstrip()), len(text)])
        if self.rng.random() < 0.5:
            column = self.rng.randint(0, len(text))
        return start + len(text[:column].encode())

    def type_token(self, source: bytes) -> list[Edit]:
        token = self.rng.choice(self.words if self.rng.random() < 0.3 else self.tokens)
        return _typed(self._position(source), token.replace("\n", self.newline))

    def type_line(self, source: bytes) -> list[Edit]:
        start, end, _ = self._line(source)
        indent = source[start:end].decode()
        indent = indent[: len(indent) - len(indent.lstrip())]
        other = self._line(source)
        text = source[other[0] : other[1]].decode().strip()[:60]
        return _typed(start, indent + text + self.newline)

    def cut_and_paste(self, source: bytes) -> list[Edit]:
        start, _, after = self._line(source)
        line = source[start:after].decode()
        back = start if self.rng.random() < 0.7 else self._line(source)[0]
        back = back if back <= start else back - (after - start)
        return [(start, after, ""), (back, back, line)]

    def comment(self, source: bytes) -> list[Edit]:
        """Comment a line out, or in."""
        start, end, _ = self._line(source)
        at = end - len(source[start:end].lstrip())
        if source[at:end].startswith(b"#"):
            return [(at, at + 1 + source[at:end].startswith(b"# "), "")]
        return [(at, at, "# ")]

    def indent(self, source: bytes) -> list[Edit]:
        """Indent a line, or dedent it."""
        start, end, _ = self._line(source)
        spaces = min(4, end - start - len(source[start:end].lstrip(b" ")))
        if spaces and self.rng.random() < 0.5:
            return [(start, start + spaces, "")]
        return [(start, start, "    ")]

    def rename(self, source: bytes) -> list[Edit]:
        start, end, _ = self._line(source)
        names = list(re.finditer(rb"[A-Za-z_][A-Za-z0-9_]*", source[start:end]))
        if not names:
            return self.type_token(source)
        name = self.rng.choice(names)
        old = name.group().decode()
        new = self.rng.choice([old + "_2", old[:-1] or "x", self.rng.choice(self.words)])
        return [(start + name.start(), start + name.end(), new)]

    def paste_block(self, source: bytes) -> list[Edit]:
        try:
            lines = self.rng.choice(self.pool).read_text("utf-8").splitlines()
        except (IndexError, OSError, UnicodeDecodeError):
            lines = source.decode().splitlines()
        first = self.rng.randrange(len(lines) or 1)
        block = lines[first : first + self.rng.randint(1, 30)]
        at = self._line(source)[0]
        return [(at, at, "".join(line + self.newline for line in block))]

    def retype_docstring(self, source: bytes) -> list[Edit]:
        """Delete a docstring (after a line that ends with a colon), then type it again in
        twenty pieces."""
        starts = [m.start(1) for m in re.finditer(rb':[ \t]*\r?\n[ \t]*(r?""")', source)]
        if not starts:
            return self.type_token(source)
        start = self.rng.choice(starts)
        end = source.find(b'"""', start + 3 + (source[start] == ord("r"))) + 3
        if end < 3:
            return self.type_token(source)
        text = source[start:end].decode()
        size = -(-len(text) // 20)
        edits: list[Edit] = [(start, end, "")]
        for i in range(0, len(text), size):
            edits.append((start, start, text[i : i + size]))
            start += len(text[i : i + size].encode())
        return edits

    def open_bracket(self, source: bytes) -> list[Edit]:
        """Open a bracket or a triple quote in the first tenth of the file (closed later)."""
        lines = _lines(source)
        start, end, _ = self.rng.choice(lines[: max(1, len(lines) // 10)])
        opener, closer = self.rng.choice([("(", ")"), ("[", "]"), ("{", "}"), ('"""', '"""')])
        line = source[start:end]
        at = self.rng.choice([end, start + len(line) - len(line.lstrip())])
        self.opener = (at, len(opener), closer)
        return _typed(at, opener)

    def undo(self, source: bytes, old: bytes | None = None) -> list[Edit]:
        """Put back the text of one of the last three operations, as one edit."""
        old = old or self.rng.choice(self.snapshots[-3:] or [source])
        start = _snap(source, len(os.path.commonprefix([old, source])))  # noqa: RUF071
        suffix = len(os.path.commonprefix([old[start:][::-1], source[start:][::-1]]))  # noqa: RUF071
        end, old_end = len(source) - suffix, len(old) - suffix
        while end < len(source) and source[end] & 0xC0 == 0x80:
            end, old_end = end + 1, old_end + 1
        return [(start, end, old[start:old_end].decode())]


# -- Minimising, the run ----------------------------------------------------------------------


def _without(steps: list[Step], start: int, end: int) -> list[Step] | None:
    """The steps on the initial text without bytes [start, end); None if one edits them."""
    kept = []
    for s, e, text, action in steps:
        if e <= start:
            delta = len(text.encode()) - (e - s)
            start, end = start + delta, end + delta
            kept.append((s, e, text, action))
        elif s >= end:
            kept.append((s - (end - start), e - (end - start), text, action))
        else:
            return None
    return kept


def _dropped(steps: list[Step], i: int, n: int) -> list[Step]:
    """``steps`` without ``n`` at ``i``, the offsets after them moved back as if they had not
    been made (into the start of what one inserted)."""
    after = []
    for start, end, text, action in steps[i + n :]:
        for s, e, new, _ in reversed(steps[i : i + n]):
            made = s + len(new.encode())
            start, end = (p - made + e if p >= made else min(p, s) for p in (start, end))
        after.append((start, end, text, action))
    return steps[:i] + after


def _remove_runs(count: Callable[[], int], attempt: Callable[[int, int], bool]) -> None:
    """Try to remove runs of ``n`` items at ``i`` (``attempt(i, n)``), halving ``n``."""
    size = max(1, count() // 2)
    while size >= 1:
        i = 0
        while i < count():
            if not attempt(i, size):
                i += size
        size //= 2


def minimise(case: Case, seconds: float = 120.0) -> Case:
    """A smaller case with the same failure: fewer steps, checks, lines of the initial text,
    and a simpler configuration, greedily, for at most about ``seconds``."""
    deadline = time.monotonic() + seconds
    best = case

    def attempt(candidate: Case) -> bool:
        nonlocal best
        if time.monotonic() > deadline:
            return False
        steps = candidate.steps
        outcome = run(candidate.text, candidate.config, lambda _: steps)
        if outcome.failure is None or outcome.failure.signature != case.failure.signature:
            return False
        best = replace(candidate, steps=outcome.steps, failure=outcome.failure)
        return True

    def without_lines(i: int, n: int) -> bool:
        lines = best.text.encode().splitlines(keepends=True)
        start = len(b"".join(lines[:i]))
        steps = _without(best.steps, start, start + len(b"".join(lines[i : i + n])))
        text = b"".join(lines[:i] + lines[i + n :]).decode()
        return steps is not None and attempt(replace(best, text=text, steps=steps))

    for _ in range(2):
        _remove_runs(
            lambda: len(best.steps),
            lambda i, n: attempt(replace(best, steps=_dropped(best.steps, i, n))),
        )
        for i in range(len(best.steps) - 1):  # fewer checks
            if i < len(best.steps) - 1 and best.steps[i][3]:
                steps = [*best.steps[:i], (*best.steps[i][:3], ""), *best.steps[i + 1 :]]
                attempt(replace(best, steps=steps))
        _remove_runs(lambda: len(best.text.encode().splitlines()), without_lines)
    for simpler in ("server", "batch", "fix_factories", "tree_query", "cross_scan", "chunk_lines"):
        config = replace(best.config, **{simpler: getattr(Config(), simpler)})
        if config != best.config:
            attempt(replace(best, config=config))
    return best


def corpus(roots: Sequence[Path]) -> list[Path]:
    """Every ``*.py`` under ``roots`` but in site-packages, in a stable order."""
    files = {p for root in roots for p in root.rglob("*.py") if "site-packages" not in p.parts}
    return sorted(files)


def read_text(path: Path, crlf: bool = False) -> str | None:
    """A file's text if it is UTF-8 of 50 to 5,000 lines (in CRLF if asked)."""
    try:
        text = path.read_bytes().decode()
    except (OSError, UnicodeDecodeError):
        return None
    if not 50 <= text.count("\n") <= 5000:
        return None
    return re.sub(r"\r?\n", "\r\n", text) if crlf else text


def fuzz_session(
    path: Path, config: Config, rng: random.Random, ops: int, pool: Sequence[Path] = ()
) -> tuple[Outcome, Case | None]:
    """A session of ``ops`` operations on ``path``, and the case of its failure if any."""
    text = read_text(path, config.crlf)
    assert text is not None, path

    def steps(session: Session) -> Iterator[Step]:
        """A check after every keystroke (some skipped when batched), a pause after some
        operations."""
        user = User(rng, session.doc.source, pool)
        for _ in range(ops):
            edits = user.op(session.doc.source, session.doc.tree.root_node.has_error)
            for i, (start, end, new) in enumerate(edits):
                action = "" if config.batch and rng.random() < 0.6 else "check"
                action = "pause" if i == len(edits) - 1 and rng.random() < 0.3 else action
                yield (start, end, new, action)

    outcome = run(text, config, steps)
    if outcome.failure is None:
        return outcome, None
    return outcome, Case(str(path), 0, 0, config, text, outcome.steps, outcome.failure)


def main() -> int:
    """Fuzz, or replay a case."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sessions", type=int, default=None, help="default 20")
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("--root", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("edit_fuzz_out"))
    parser.add_argument("--ops", type=int, default=30, help="operations per session")
    parser.add_argument("--minimise-seconds", type=float, default=120.0)
    parser.add_argument("--replay", type=Path, default=None)
    args = parser.parse_args()
    if args.replay is not None:
        saved = Case.from_json(args.replay.read_text())
        failure = run(saved.text, saved.config, lambda _: saved.steps).failure
        print("passes" if failure is None else "\n".join([failure.kind, *failure.detail]))
        return 0 if failure is None else 1
    sessions = args.sessions or (None if args.minutes else 20)
    deadline = time.monotonic() + 60 * (args.minutes or 1e9)
    files = corpus([Path(sysconfig.get_paths()["stdlib"]), *args.root])
    args.out.mkdir(parents=True, exist_ok=True)
    began, seen, index = time.monotonic(), set(), 0
    totals: Counter[str] = Counter()
    failures: dict[tuple[str, ...], list[str]] = {}  # the cases of each signature
    while index != sessions and time.monotonic() < deadline:
        rng = random.Random(f"{args.seed}:{index}")
        config, path = Config.draw(rng), rng.choice(files)
        while read_text(path) is None:
            path = rng.choice(files)
        seen.add(path)
        outcome, case = fuzz_session(path, config, rng, args.ops, files)
        totals.update(outcome.stats)
        index += 1
        if case is None:
            continue
        totals[f"mismatches: {case.failure.kind}"] += 1
        names = failures.setdefault(case.failure.signature, [])
        case = replace(case, seed=args.seed, session=index - 1)
        if len(names) < 2:
            case = minimise(case, args.minimise_seconds)
        names.append(f"case-{args.seed}-{index - 1}-{case.failure.kind}.json")
        (args.out / names[-1]).write_text(case.to_json())
        print(f"session {index - 1}, {path}: {case.failure.kind}: {args.out / names[-1]}")
        print("   ", "\n    ".join(case.failure.detail[:4]), flush=True)
    totals.update(files=len(seen), sessions=index, seconds=round(time.monotonic() - began))
    for label, value in [*sorted(totals.items()), ("distinct failures", len(failures))]:
        print(f"{label:<32} {value:>10,.0f}")
    for signature, names in failures.items():
        print(f"{len(names):>5} x {' '.join(signature)}: {', '.join(names[:3])}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
