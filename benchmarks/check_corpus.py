"""Agreement with ruff and speed on a corpus of real code: popular PyPI packages at pinned
versions plus CPython's ``Lib/`` *including* its tests.

    python benchmarks/check_corpus.py [--groups stdlib,stdlib-tests,packages,stubs]
        [--packages NAME[==VERSION],...] [--quick] [--runs N] [--skip-slow] [--no-speed]
        [--cache-dir DIR] [--stdlib-root DIR] [--oracle-python PY] [--out DIR]

Corpus (downloaded once, cached outside the repository in ``--cache-dir``, default
``$DRAIN_LS_BENCH_CACHE`` or ``~/.cache/drain-ls-bench/corpus``):

- ``stdlib``: this interpreter's ``Lib/`` without test folders (``check_stdlib.stdlib_files``);
- ``stdlib-tests``: the rest of ``Lib/`` (``test/``, ``idlelib/idle_test/``, ``*/tests/``...),
  full of edge-case syntax, deliberately broken files and odd encodings;
- ``packages``: ``*.py`` and ``*.ipynb`` in the wheels of ``PACKAGES`` (``pip download --no-deps
  --only-binary=:all: NAME==VERSION``, an sdist when there is no wheel); a package that cannot
  be downloaded is skipped and said so;
- ``stubs``: the ``*.pyi`` files of those wheels.

Every tool gets the same explicit file list (so no difference in discovery or excludes),
split into batches only if it would not fit on one command line. ``drain-ls check`` runs
with the selection of ruff plus ``E999`` (ruff always reports ``invalid-syntax``). Findings
are matched on (file, notebook cell, code, row; for F401 also the imported name); syntax
errors on the file (does the file have one). Per group and family: both, drain-ls only, ruff
only, precision and recall with ruff as the reference. Every disagreement goes to
``--out``/check_corpus_disagreements.json with a guessed category (the guesses read the file:
a name found inside a string, a stub, a BOM, the other side's syntax error...); syntax
disagreements are also compiled by ``--oracle-python`` (the newest CPython found) to say who is
right. The summary, categories with examples, and speed go to ``--out``/check_corpus.md.

Speed, in the same run, per group: ``drain-ls check`` (``--no-cache`` when it has that
option; first and warm runs with its results cache when it has ``--cache-dir``), the parse
floor (``parse_only.py``: read and parse with tree-sitter in drain-ls's workers, nothing
else), ruff cold (``--no-cache``) and warm (its cache primed by an untimed run), and, unless
``--skip-slow``, pyflakes + pydocstyle (installed in a venv under the cache dir; one run each).
The timed tools run in rounds, one run of each per round, so that load from other processes
falls on all of them alike; the best of ``--runs`` counts. The load average is recorded.
"""

from __future__ import annotations

import argparse
import ast
import glob
import io
import itertools
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import tokenize
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from check_stdlib import CODES, _version, run_once, stdlib_files, tool

# Pinned: the numbers only mean something against the same code. Chosen for size, popularity
# and typing style (string annotations, TypeVar bounds, TYPE_CHECKING blocks, stubs).
PACKAGES: dict[str, str] = {
    "aiohttp": "3.11.10",
    "anyio": "4.7.0",
    "attrs": "24.2.0",
    "black": "24.10.0",
    "boto3": "1.35.0",
    "botocore": "1.35.0",
    "celery": "5.4.0",
    "click": "8.1.7",
    "django": "5.1.4",
    "docutils": "0.21.2",
    "fastapi": "0.115.6",
    "flask": "3.1.0",
    "httpx": "0.28.1",
    "hypothesis": "6.115.0",
    "ipython": "8.30.0",
    "jinja2": "3.1.4",
    "litestar": "2.13.0",
    "matplotlib": "3.9.3",
    "mypy": "1.13.0",
    "networkx": "3.4.2",
    "numpy": "2.1.3",
    "packaging": "24.2",
    "pandas": "2.2.3",
    "pip": "24.3.1",
    "poetry-core": "1.9.1",
    "prompt-toolkit": "3.0.48",
    "pydantic": "2.10.3",
    "pygments": "2.18.0",
    "pytest": "8.3.4",
    "requests": "2.32.3",
    "rich": "13.9.4",
    "scipy": "1.14.1",
    "setuptools": "75.6.0",
    "sphinx": "8.1.3",
    "sqlalchemy": "2.0.36",
    "starlette": "0.41.3",
    "sympy": "1.13.3",
    "textual": "1.0.0",
    "tornado": "6.4.2",
    "trio": "0.27.0",
    "twisted": "24.11.0",
    "typing-extensions": "4.12.2",
    "urllib3": "2.2.3",
    "werkzeug": "3.1.3",
    "xarray": "2024.11.0",
    # Added on 2026-12-07 as a workload nothing here was tuned for (their newest releases):
    # it found that a ``TypeVar`` imported from a compatibility module was taken for
    # typing's (narwhals).
    "alembic": "1.20.1",
    "ansible-core": "2.19.14",
    "anthropic": "2.17.0",
    "beartype": "0.23.1",
    "bokeh": "3.9.2",
    "dask": "2026.11.0",
    "hatchling": "1.33.0",
    "jedi": "0.20.1",
    "langchain-core": "1.8.4",
    "libcst": "1.9.0",
    "marshmallow": "4.4.0",
    "msgspec": "0.23.0",
    "narwhals": "2.29.0",
    "nox": "2026.10.20",
    "openai": "3.63.0",
    "parso": "0.8.7",
    "pdm": "2.29.4",
    "pluggy": "1.7.0",
    "polars": "2.1.0",
    "prefect": "3.9.1",
    "pydantic-settings": "2.16.3",
    "pyyaml": "6.0.4",
    "redis": "8.2.0",
    "scikit-learn": "1.9.1",
    "scrapy": "2.19.0",
    "sqlmodel": "0.0.50",
    "strawberry-graphql": "0.341.3",
    "tox": "4.67.17",
    "transformers": "5.25.0",
    "typeguard": "4.6.1",
    "typer": "0.29.2",
    "virtualenv": "21.15.14",
    # And 36 more the same day, the same way: they found a ``with`` item read as a syntax
    # error (datasets), an annotation's attribute resolved too early (websockets) and an
    # ``@overload`` rebound after its import (sentry-sdk).
    "accelerate": "1.16.0",
    "altair": "6.3.0",
    "astroid": "4.4.0",
    "cattrs": "26.2.1",
    "cryptography": "51.0.1",
    "dagster": "1.13.29",
    "datasets": "5.2.0",
    "equinox": "0.13.8",
    "faker": "40.63.0",
    "falcon": "4.4.0",
    "flake8": "7.5.0",
    "isort": "9.0.2",
    "jaxtyping": "0.3.11",
    "jsonschema": "4.26.0",
    "markdown": "3.11.4",
    "mcp": "2.3.0",
    "mkdocs": "1.6.1",
    "more-itertools": "11.2.1",
    "pandera": "0.35.0",
    "paramiko": "5.1.0",
    "pillow": "13.0.0",
    "protobuf": "7.36.2",
    "pydantic-ai-slim": "2.78.0",
    "pylint": "4.1.5",
    "pymongo": "4.20.1",
    "returns": "0.30.0",
    "sanic": "25.12.1",
    "seaborn": "0.13.2",
    "sentry-sdk": "3.0.0",
    "sqlglot": "30.31.0",
    "statsmodels": "0.15.0",
    "streamlit": "1.67.0",
    "structlog": "26.1.0",
    "tenacity": "9.2.1",
    "uvicorn": "0.55.0",
    "websockets": "17.4",
}
QUICK_PACKAGES = ("attrs", "click", "httpx", "packaging", "requests", "typing-extensions")
GROUPS = ("stdlib", "stdlib-tests", "packages", "stubs")
FAMILIES = ("F401", "D100", "D101", "D102", "D103", "D104", "D105", "D106", "D107", "syntax")
PEERS = {"pyflakes": "3.2.0", "pydocstyle": "6.3.0"}
# Keep each command line well under ARG_MAX (2 MiB here, environment included).
MAX_ARG_BYTES = 1_000_000
FLOOR = "parse floor"


def default_cache() -> Path:
    env = os.environ.get("DRAIN_LS_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "drain-ls-bench" / "corpus"


# ----------------------------------------------------------------------------- the corpus


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def download(name: str, version: str, cache: Path) -> tuple[Path | None, str | None]:
    """The unpacked wheel (or sdist) of ``name==version``, downloaded once; or why not."""
    target = cache / "unpacked" / normalise(name)
    marker = target / ".bench-source"
    folder = cache / "downloads" / f"{normalise(name)}-{version}"
    archives = sorted(folder.glob("*.whl")) + sorted(folder.glob("*.tar.gz"))
    archives += sorted(folder.glob("*.zip"))
    if not archives:
        folder.mkdir(parents=True, exist_ok=True)
        # Only read, never installed or run: a release for a newer Python than this one
        # (the newest syntax is there) is as good.
        base = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "-q",
            "--ignore-requires-python",
        ]
        base += ["--disable-pip-version-check", "-d", str(folder), f"{name}=={version}"]
        errors = []
        for how in ("--only-binary=:all:", "--no-binary=:all:"):  # a wheel, else the sdist
            result = subprocess.run([*base, how], capture_output=True, text=True, check=False)
            archives = sorted(p for p in folder.iterdir() if p.is_file())
            if result.returncode == 0 and archives:
                break
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            errors.append(f"{how}: {lines[-1] if lines else 'exit ' + str(result.returncode)}")
        else:
            return None, "; ".join(errors)
    archive = archives[0]
    if marker.exists() and marker.read_text() == archive.name:
        return target, None
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    try:
        if archive.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(target)
        else:
            with tarfile.open(archive) as t:
                t.extractall(target, filter="data")
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as exc:
        return None, f"cannot unpack {archive.name}: {exc}"
    marker.write_text(archive.name)
    return target, None


@dataclass
class Group:
    name: str
    root: Path  # the paths are relative to it (tools run there)
    files: list[str]
    label: str  # how the root is shown in the results
    batches: int = 1

    def display(self, absolute: str) -> str:
        try:
            relative = Path(absolute).resolve().relative_to(self.root.resolve())
        except ValueError:
            return absolute
        return f"{self.label}/{relative.as_posix()}"


def package_files(roots: dict[str, Path], suffixes: tuple[str, ...]) -> list[str]:
    files = []
    for name in sorted(roots):
        for directory, dirnames, filenames in os.walk(roots[name]):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            base = Path(directory)
            for f in sorted(filenames):
                if f.endswith(suffixes):
                    files.append(str(base / f))
    return files


def stdlib_groups(root: Path, quick: bool) -> tuple[list[str], list[str]]:
    library = [str(p) for p in stdlib_files(root)]
    seen = set(library)
    tests = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("site-packages", "__pycache__"))
        for f in sorted(filenames):
            path = str(Path(directory) / f)
            if f.endswith(".py") and path not in seen:
                tests.append(path)
    if quick:  # a deterministic sample
        library, tests = library[::4], tests[::4]
    return library, tests


# ----------------------------------------------------------------------------- running


def batches(files: list[str]) -> list[list[str]]:
    out: list[list[str]] = [[]]
    size = 0
    for f in files:
        n = len(os.fsencode(f)) + 1
        if out[-1] and size + n > MAX_ARG_BYTES:
            out.append([])
            size = 0
        out[-1].append(f)
        size += n
    return out


@dataclass
class Run:
    seconds: float
    stdout: list[str]
    stderr: str


def invoke(prefix: list[str], group: Group, timeout: float | None = None) -> Run:
    """One run of ``prefix + files`` in the group's root (in batches when the list is long)."""
    total, outs, errs = 0.0, [], []
    for chunk in batches([os.path.relpath(f, group.root) for f in group.files]):
        seconds, out, err = run_once([*prefix, *chunk], cwd=group.root, timeout=timeout)
        total += seconds
        outs.append(out)
        errs.append(err)
    return Run(total, outs, "".join(errs))


def help_text(command: list[str]) -> str:
    result = subprocess.run(
        [*command, "check", "--help"], capture_output=True, text=True, check=False
    )
    return result.stdout


def peers_python(cache: Path) -> tuple[str | None, str]:
    """A venv under the cache dir with pyflakes and pydocstyle (never the project's venv)."""
    venv = cache / "peers-venv"
    python = venv / "bin" / "python"
    pins = [f"{k}=={v}" for k, v in PEERS.items()]
    stamp = venv / ".bench-pins"
    if python.exists() and stamp.exists() and stamp.read_text() == " ".join(pins):
        return str(python), ""
    base = getattr(sys, "_base_executable", sys.executable)
    steps = [
        [base, "-m", "venv", "--clear", str(venv)],
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins],
    ]
    for step in steps:
        result = subprocess.run(step, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines()
            return None, f"pyflakes/pydocstyle not installable: {lines[-1] if lines else '?'}"
    stamp.write_text(" ".join(pins))
    return str(python), ""


# ----------------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Key:
    path: str  # as displayed
    cell: int | None
    family: str
    row: int
    detail: str  # F401: the imported name


@dataclass
class Side:
    findings: Counter[Key] = field(default_factory=Counter)
    messages: dict[Key, str] = field(default_factory=dict)
    syntax_files: dict[str, str] = field(default_factory=dict)  # path -> first message
    unreadable: dict[str, str] = field(default_factory=dict)


def family(code: str | None) -> str:
    if code in (None, "E999", "invalid-syntax"):
        return "syntax"
    return code


F401_NAME = re.compile(r"`([^`]+)`")


def read_side(run: Run, group: Group, which: str) -> Side:
    side = Side()
    for text in run.stdout:
        text = text.strip()
        if not text:
            continue
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{which}: output is not JSON ({exc}): {text[:300]!r}") from None
        for r in rows:
            path = group.display(r["filename"])
            fam = family(r["code"])
            if fam not in FAMILIES:
                fam = str(r["code"])
            row = (r.get("location") or {}).get("row") or 0
            detail = ""
            if fam == "F401":
                m = F401_NAME.search(r["message"])
                detail = m.group(1) if m else r["message"]
            if fam == "syntax":
                side.syntax_files.setdefault(path, f"{row}: {r['message']}")
                detail = ""
            key = Key(path, r.get("cell"), fam, row, detail)
            side.findings[key] += 1
            side.messages.setdefault(key, r["message"])
    for line in run.stderr.splitlines():
        if which == "ruff":
            m = re.search(r"Failed to (?:lint|read) (.+?): (.*)", line)
        else:
            m = re.match(r"error: (.+?): (.*)", line)
        if m:
            side.unreadable[group.display(str(group.root / m.group(1)))] = m.group(2)
    return side


@dataclass
class Tally:
    ruff: int = 0
    drain: int = 0
    both: int = 0

    @property
    def precision(self) -> float:
        return self.both / self.drain if self.drain else 1.0

    @property
    def recall(self) -> float:
        return self.both / self.ruff if self.ruff else 1.0


def compare(drain: Side, ruff: Side) -> tuple[dict[str, Tally], list[tuple[str, Key, str]]]:
    """Per family, and every disagreement as (side, key, message)."""
    tallies = {f: Tally() for f in FAMILIES}
    diffs: list[tuple[str, Key, str]] = []
    ours = Counter({k: v for k, v in drain.findings.items() if k.family != "syntax"})
    theirs = Counter({k: v for k, v in ruff.findings.items() if k.family != "syntax"})
    for key, n in ours.items():
        tallies.setdefault(key.family, Tally()).drain += n
    for key, n in theirs.items():
        tallies.setdefault(key.family, Tally()).ruff += n
    for key, n in (ours & theirs).items():
        tallies[key.family].both += n
    for key in sorted(ours - theirs, key=_order):
        diffs.append(("drain-ls only", key, drain.messages[key]))
    for key in sorted(theirs - ours, key=_order):
        diffs.append(("ruff only", key, ruff.messages[key]))
    # Syntax errors: does the file have one?
    a, b = set(drain.syntax_files), set(ruff.syntax_files)
    t = tallies["syntax"]
    t.drain, t.ruff, t.both = len(a), len(b), len(a & b)
    for path in sorted(a - b):
        row = int(drain.syntax_files[path].split(":")[0])
        diffs.append(
            ("drain-ls only", Key(path, None, "syntax", row, ""), drain.syntax_files[path])
        )
    for path in sorted(b - a):
        row = int(ruff.syntax_files[path].split(":")[0])
        diffs.append(("ruff only", Key(path, None, "syntax", row, ""), ruff.syntax_files[path]))
    return tallies, diffs


def _order(key: Key) -> tuple[str, int, str, int, str]:
    return (key.path, key.cell or 0, key.family, key.row, key.detail)


# ----------------------------------------------------------------------------- categories

TYPING_CALLS = {"cast", "TypeVar", "NewType", "TypeAliasType", "NamedTuple", "TypedDict"}


def _string_uses(source: str, names: set[str]) -> list[str]:
    """Where ``names`` occur as identifiers inside string literals: the context of each
    (``cast()``, ``TypeVar()``, ``list[...]``, an annotation, ``__all__``...), most telling
    first."""
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, names)) + r")\b")
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return _string_uses_tokens(source, pattern)
    parents: dict[int, ast.AST] = {}
    annotations: set[int] = set()
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
        for attr in ("annotation", "returns"):
            sub = getattr(node, attr, None)
            if sub is not None:
                annotations.update(id(n) for n in ast.walk(sub))
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        if not pattern.search(node.value):
            continue
        chain: list[ast.AST] = [node]
        parent = parents.get(id(node))
        while parent is not None and not isinstance(parent, (ast.stmt, ast.Module)):
            chain.append(parent)
            parent = parents.get(id(parent))
        found.append(_context(node, chain, parent, annotations))
    return sorted(found, key=_rank)


def _context(
    node: ast.AST, chain: list[ast.AST], statement: ast.AST | None, annotations: set[int]
) -> str:
    targets: list[ast.AST] = []
    if isinstance(statement, ast.Assign):
        targets = statement.targets
    elif isinstance(statement, (ast.AugAssign, ast.AnnAssign)):
        targets = [statement.target]
    if any(_callee(t) == "__all__" for t in targets):
        return "__all__"
    if id(node) in annotations:
        return "annotation"
    for inner, outer in itertools.pairwise(chain):
        if isinstance(outer, ast.Call) and inner is not outer.func:
            name = _callee(outer.func)
            return f"{name}()" if name in TYPING_CALLS else f"argument of {name or '?'}()"
        if isinstance(outer, ast.Subscript) and inner is not outer.value:
            return f"subscript of {_callee(outer.value) or '?'}[...]"
    if isinstance(statement, ast.AnnAssign) and "TypeAlias" in ast.dump(statement.annotation):
        return "TypeAlias value"
    if isinstance(statement, ast.Expr) and len(chain) == 1:
        return "docstring or bare string"
    return "other string"


def _rank(context: str) -> tuple[int, str]:
    if context.endswith("()") and context[:-2] in TYPING_CALLS:
        return (0, context)
    if context == "TypeAlias value" or context == "__all__":
        return (1, context)
    if context.startswith("subscript"):
        return (2, context)
    if context == "annotation":
        return (3, context)
    if context.startswith("argument"):
        return (4, context)
    return (5, context)


def _string_uses_tokens(source: str, pattern: re.Pattern[str]) -> list[str]:
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.STRING and pattern.search(tok.string):
                found.append("string (file not parsable by this Python)")
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    return found


def _callee(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


class Reader:
    def __init__(self, groups: dict[str, Group]) -> None:
        self.roots = {g.label: g.root for g in groups.values()}
        self.cache: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.ruff_syntax: set[str] = set()  # files ruff reports a syntax error in

    def text(self, display: str) -> str:
        if display not in self.cache:
            label, _, rest = display.partition("/")
            try:
                data = (self.roots[label] / rest).read_bytes()
                self.cache[display] = data.decode("utf-8", "replace")
            except (KeyError, OSError):
                self.cache[display] = ""
        return self.cache[display]

    def tree_error(self, display: str) -> str:
        """Where tree-sitter (as drain-ls parses) finds an error in a file ruff parses
        without one ("tree-sitter ERROR from line N: text"), or ""."""
        if display in self.ruff_syntax:
            return ""
        if display not in self.errors:
            self.errors[display] = self._tree_error(display)
        return self.errors[display]

    def _tree_error(self, display: str) -> str:
        from drain_ls.analysis.source import parse

        text = self.text(display)

        data = text.encode("utf-8")
        node = parse(data).root_node
        if not node.has_error:
            return ""
        while True:  # down to the smallest node that holds the error
            inner = [c for c in node.children if c.has_error or c.type == "ERROR" or c.is_missing]
            if not inner:
                break
            node = inner[0]
        row = node.start_point[0]
        where = data[node.start_byte : node.start_byte + 40].decode("utf-8", "replace")
        return f"tree-sitter {node.type} from line {row + 1}: `{where.splitlines()[0] if where else ''}`"

    def line(self, display: str, row: int) -> str:
        lines = self.text(display).splitlines()
        return lines[row - 1].strip() if 0 < row <= len(lines) else ""


LOST = "tree-sitter ERROR in a file ruff parses cleanly: drain-ls loses findings silently"


def categorise(side: str, key: Key, message: str, drain: Side, ruff: Side, reader: Reader) -> str:
    text = reader.text(key.path)
    stub = key.path.endswith(".pyi")
    if side == "drain-ls only":
        if key.family != "syntax" and key.path in ruff.syntax_files:
            return "ruff has a syntax error in the file (so no AST rules there)"
        if key.family != "syntax" and key.path in ruff.unreadable:
            return "ruff could not read the file"
    else:
        if key.family != "syntax" and key.path in drain.syntax_files:
            return "drain-ls reports E999 in the file (so drops its findings)"
        if key.family != "syntax" and key.path in drain.unreadable:
            return "drain-ls could not read the file: " + drain.unreadable[key.path][:40]
    if key.family == "syntax":
        who = "drain-ls E999" if side == "drain-ls only" else "ruff invalid-syntax"
        short = re.sub(r"\d+", "N", message.split(":", 1)[-1].strip())[:60]
        return f"syntax: {who} only: {short}"
    if text.startswith("\ufeff") and key.row == 1:
        return "BOM on the first line"
    if stub:
        return f"{key.family} in a stub ({side})"
    lines = text.splitlines()
    if side == "ruff only":
        around = lines[max(0, key.row - 4) : key.row]
        if any(re.search(r"#\s*noqa", line, re.IGNORECASE) for line in around):
            return "a `# noqa` that ruff finds invalid (it warns, and reports): drain-ls obeys it"
        if reader.tree_error(key.path):
            return LOST
    if key.family == "F401":
        line = reader.line(key.path, key.row)
        last = key.detail.split(".")[-1]
        first = key.detail.split(".")[0]
        names = {first, last}
        alias = re.search(rf"\b{re.escape(last)}\s+as\s+(\w+)", line)
        if alias:
            if alias.group(1) == last:
                return f"F401: redundant alias `import {last} as {last}` ({side})"
            names = {alias.group(1)}
        contexts = _string_uses(text, names)
        if side == "drain-ls only":
            if contexts and _rank(contexts[0])[0] <= 3:  # a place a type checker reads
                return f"F401 drain-ls only: name used in a string: {contexts[0]}"
            if "." in key.detail and re.search(rf"import {re.escape(first)} as \w+", text):
                return "F401 drain-ls only: `import a.b` beside a used `import a as x` (ruff: used)"
            if not text.isascii() and _nfkc_use(text, names):
                return "F401 drain-ls only: NFKC-equivalent spelling of the name used"
            if reader.tree_error(key.path):
                return LOST
            if "from __future__ import annotations" in text:
                return (
                    "F401 drain-ls only: file defers annotations (a use before the import, "
                    "or a name rebound in branches?)"
                )
            if contexts:
                return f"F401 drain-ls only: name used in a string: {contexts[0]}"
        elif "__all__" in contexts:
            return "F401 ruff only: name listed in an `__all__` form ruff does not read"
        return f"F401 {side}: other"
    line = reader.line(key.path, key.row)
    above = "\n".join(lines[max(0, key.row - 6) : key.row])
    for deco in ("override", "overload"):
        if f"@{deco}" in above or f".{deco}" in above:
            return f"{key.family} {side}: @{deco}"
    if reader.tree_error(key.path):
        return LOST
    return f"{key.family} {side}: other"


def _nfkc_use(text: str, names: set[str]) -> bool:
    import unicodedata

    for word in re.findall(r"\w+", text):
        if not word.isascii() and unicodedata.normalize("NFKC", word) in names:
            return True
    return False


def oracle(python: str | None, paths: list[Path]) -> dict[str, str]:
    """What another CPython's ``compile()`` says about each file."""
    if not python or not paths:
        return {}
    code = (
        "import sys, json\n"
        "out = {}\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        compile(open(p, 'rb').read(), p, 'exec', dont_inherit=True)\n"
        "        out[p] = 'ok'\n"
        "    except SyntaxError as e:\n"
        "        out[p] = f'{type(e).__name__}: {e.msg} (line {e.lineno})'\n"
        "    except Exception as e:\n"
        "        out[p] = f'{type(e).__name__}: {e}'\n"
        "print(json.dumps(out))\n"
    )
    result = subprocess.run(
        [python, "-c", code, *map(str, paths)], capture_output=True, text=True, check=False
    )
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError:
        return {}


def newest_python() -> str | None:
    found = []
    for exe in glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3")):
        m = re.search(r"/3\.(\d+)\.(\d+)/", exe)
        if m:
            found.append(((int(m.group(1)), int(m.group(2))), exe))
    return max(found)[1] if found else shutil.which("python3")


# ----------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--groups", default=",".join(GROUPS), help=f"of {', '.join(GROUPS)}")
    parser.add_argument("--packages", help="NAME or NAME==VERSION, comma-separated")
    parser.add_argument("--quick", action="store_true", help="few packages, 1 run, no peers")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tool (best counts)")
    parser.add_argument("--skip-slow", action="store_true", help="no pyflakes + pydocstyle")
    parser.add_argument("--no-speed", action="store_true", help="agreement only: one run each")
    parser.add_argument("--cache-dir", type=Path, default=default_cache())
    parser.add_argument("--stdlib-root", type=Path, default=Path(sysconfig_stdlib()))
    parser.add_argument("--oracle-python", default=newest_python())
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--name", help="suffix for the result files (another corpus)")
    parser.add_argument("--drain-cmd", help="command that runs drain-ls (default: the script)")
    parser.add_argument(
        "--target-version",
        default="py314",
        help="given to both tools (drain-ls's default; ruff's is py310, and at py314 ruff "
        "resolves annotations late, PEP 649)",
    )
    args = parser.parse_args()
    groups_wanted = [g.strip() for g in args.groups.split(",") if g.strip()]
    for g in groups_wanted:
        if g not in GROUPS:
            parser.error(f"unknown group {g!r} (known: {', '.join(GROUPS)})")
    if args.quick:
        args.runs, args.skip_slow = 1, True
    if args.no_speed:
        args.runs, args.skip_slow = 1, True
    cache: Path = args.cache_dir.expanduser().resolve()
    cache.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []

    # The corpus.
    wanted = dict(PACKAGES)
    if args.packages:
        wanted = {}
        for spec in args.packages.split(","):
            name, _, version = spec.strip().partition("==")
            known = {normalise(k): v for k, v in PACKAGES.items()}
            version = version or known.get(normalise(name), "")
            if not version:
                parser.error(f"{name}: not pinned in PACKAGES; give NAME==VERSION")
            wanted[name] = version
    elif args.quick:
        wanted = {k: PACKAGES[k] for k in QUICK_PACKAGES}
    roots: dict[str, Path] = {}
    failed: dict[str, str] = {}
    if {"packages", "stubs"} & set(groups_wanted):
        for name, version in sorted(wanted.items()):
            root, error = download(name, version, cache)
            if root is None:
                failed[f"{name}=={version}"] = error or "?"
                print(f"SKIPPED {name}=={version}: download failed: {error}", file=sys.stderr)
            else:
                roots[name] = root
    for spec, error in failed.items():
        notes.append(f"**Skipped {spec}**: download failed ({error}).")

    groups: dict[str, Group] = {}
    library, tests = stdlib_groups(args.stdlib_root, args.quick)
    version = re.search(r"python(\d+\.\d+)", str(args.stdlib_root))
    lib_label = f"Lib-{version.group(1) if version else args.stdlib_root.name}"
    unpacked = cache / "unpacked"
    made = {
        "stdlib": lambda: Group("stdlib", args.stdlib_root, library, lib_label),
        "stdlib-tests": lambda: Group("stdlib-tests", args.stdlib_root, tests, lib_label),
        "packages": lambda: Group(
            "packages", unpacked, package_files(roots, (".py", ".ipynb")), "pkgs"
        ),
        "stubs": lambda: Group("stubs", unpacked, package_files(roots, (".pyi",)), "pkgs"),
    }
    for name in groups_wanted:
        group = made[name]()
        group.batches = len(batches([os.path.relpath(f, group.root) for f in group.files]))
        if group.files:
            groups[name] = group
        size = sum(os.path.getsize(f) for f in group.files)
        print(f"{name}: {len(group.files)} files, {size / 1e6:.1f} MB", file=sys.stderr)

    # The tools.
    drain = args.drain_cmd.split() if args.drain_cmd else [tool("drain-ls")]
    drain_help = help_text(drain)
    has_no_cache = "--no-cache" in drain_help
    has_cache_dir = "--cache-dir" in drain_help
    select = CODES + ",E999"
    drain_base = [*drain, "check", "--format", "json", "--select", select]
    ruff_base = [tool("ruff"), "check", "--isolated", "--select", CODES, "--output-format", "json"]
    if "--target-version" in drain_help:
        drain_base += ["--target-version", args.target_version]
        ruff_base += ["--target-version", args.target_version]
    if not has_no_cache:
        notes.append(
            "`drain-ls check` has no `--no-cache` (no results cache yet): one drain-ls run."
        )
    peers = None
    if not args.skip_slow:
        peers, why = peers_python(cache)
        if peers is None:
            notes.append(why)

    timings: dict[str, dict[str, list[float]]] = {}
    loads: dict[str, tuple[float, float]] = {}
    sides: dict[str, tuple[Side, Side]] = {}
    warm_mismatch: dict[str, int] = {}
    for gname, group in groups.items():
        print(f"== {gname}", file=sys.stderr)
        state = cache / "tool-caches" / gname
        ruff_cache = state / "ruff"
        drain_cache = state / "drain-ls"
        shutil.rmtree(state, ignore_errors=True)
        state.mkdir(parents=True)
        tools: dict[str, tuple[list[str], str | None]] = {}  # name -> command, cache to empty
        tools["drain-ls" + (" --no-cache" if has_no_cache else "")] = (
            drain_base + (["--no-cache"] if has_no_cache else []),
            None,
        )
        if has_no_cache and not args.no_speed:
            warm_cmd = drain_base + (["--cache-dir", str(drain_cache)] if has_cache_dir else [])
            if has_cache_dir:
                tools["drain-ls first run (empty cache)"] = (warm_cmd, str(drain_cache))
            tools["drain-ls warm"] = (warm_cmd, None)
        tools["ruff --no-cache"] = ([*ruff_base[:2], "--no-cache", *ruff_base[2:]], None)
        if not args.no_speed:
            tools["ruff warm"] = ([*ruff_base, "--cache-dir", str(ruff_cache)], None)
            tools[FLOOR] = ([sys.executable, str(Path(__file__).parent / "parse_only.py")], None)
        load_before = os.getloadavg()[0]
        # Untimed: the page cache (the floor reads every file) and the tools' own caches.
        if not args.no_speed:
            invoke(tools[FLOOR][0], group)
            invoke(tools["ruff warm"][0], group)
            if "drain-ls warm" in tools:
                invoke(tools["drain-ls warm"][0], group)
        times: dict[str, list[float]] = defaultdict(list)
        last: dict[str, Run] = {}
        for round_ in range(args.runs):
            for name, (command, empty) in tools.items():
                if empty:
                    shutil.rmtree(empty, ignore_errors=True)
                run = invoke(command, group)
                times[name].append(run.seconds)
                last[name] = run
                print(f"  {name}: {run.seconds:.2f} s (round {round_ + 1})", file=sys.stderr)
        if peers:
            for name, command in (
                ("pyflakes", [peers, "-m", "pyflakes"]),
                ("pydocstyle", [peers, "-m", "pydocstyle", "--select", CODES[5:], "--match=.*"]),
            ):
                try:
                    run = invoke(command, group, timeout=3600)
                    times[name].append(run.seconds)
                except subprocess.TimeoutExpired:
                    notes.append(f"{name} timed out (1 h) on {gname}.")
                print(f"  {name}: {times[name][-1:]} s", file=sys.stderr)
        loads[gname] = (load_before, os.getloadavg()[0])
        timings[gname] = dict(times)
        drain_name = next(iter(tools))
        ours = read_side(last[drain_name], group, "drain-ls")
        theirs = read_side(last["ruff --no-cache"], group, "ruff")
        sides[gname] = (ours, theirs)
        for other in ("drain-ls warm", "drain-ls first run (empty cache)"):
            if other in last:
                again = read_side(last[other], group, "drain-ls")
                warm_mismatch[other] = warm_mismatch.get(other, 0) + sum(
                    ((again.findings - ours.findings) + (ours.findings - again.findings)).values()
                )

    write_results(args, groups, sides, timings, loads, notes, warm_mismatch, roots, wanted)
    return 0


def sysconfig_stdlib() -> str:
    import sysconfig

    return sysconfig.get_paths()["stdlib"]


# ----------------------------------------------------------------------------- reporting


def pct(x: float) -> str:
    return f"{x:.2%}" if x < 1 else "100%"


def write_results(
    args: argparse.Namespace,
    groups: dict[str, Group],
    sides: dict[str, tuple[Side, Side]],
    timings: dict[str, dict[str, list[float]]],
    loads: dict[str, tuple[float, float]],
    notes: list[str],
    warm_mismatch: dict[str, int],
    roots: dict[str, Path],
    wanted: dict[str, str],
) -> None:
    reader = Reader(groups)
    drain_version = _version([tool("drain-ls"), "--version"])
    head = subprocess.run(
        ["git", "-C", str(Path(__file__).parent), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    lines = [
        "# drain-ls check vs ruff on a corpus",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')}; drain-ls {drain_version} ({head}); "
        f"ruff {_version([tool('ruff'), '--version'])}; Python {platform.python_version()}; "
        f"{os.cpu_count()} cores. Selection `{CODES}` (drain-ls also `E999`; ruff always "
        "reports invalid-syntax).",
        "",
        "| group | files | MB | from |",
        "|---|---:|---:|---|",
    ]
    for g in groups.values():
        size = sum(os.path.getsize(f) for f in g.files) / 1e6
        src = str(g.root) if g.name.startswith("stdlib") else f"{len(roots)} packages"
        lines.append(f"| {g.name} | {len(g.files)} | {size:.1f} | {src} |")
    if roots:
        lines += ["", "Packages: " + ", ".join(f"{n}=={wanted[n]}" for n in sorted(roots)) + "."]
    lines += ["", *notes]

    # Agreement.
    all_diffs = []
    oracle_wanted: list[Path] = []
    lines += [
        "",
        "## Agreement with ruff (ruff is the reference)",
        "",
        "Syntax: files with at least one syntax error on each side.",
        "",
        "| group | family | ruff | drain-ls | both | drain-ls only | ruff only | precision | recall |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for gname, (ours, theirs) in sides.items():
        tallies, diffs = compare(ours, theirs)
        reader.ruff_syntax |= set(theirs.syntax_files)
        for fam, t in tallies.items():
            if not (t.ruff or t.drain):
                continue
            lines.append(
                f"| {gname} | {fam} | {t.ruff} | {t.drain} | {t.both} | {t.drain - t.both} | "
                f"{t.ruff - t.both} | {pct(t.precision)} | {pct(t.recall)} |"
            )
        for side, key, message in diffs:
            category = categorise(side, key, message, ours, theirs, reader)
            all_diffs.append(
                {
                    "group": gname,
                    "side": side,
                    "path": key.path,
                    "cell": key.cell,
                    "line": key.row,
                    "code": key.family
                    if key.family != "syntax"
                    else ("E999" if side == "drain-ls only" else "invalid-syntax"),
                    "name": key.detail or None,
                    "message": message,
                    "category": category,
                    "source": reader.line(key.path, key.row)[:160],
                }
            )
            if category == LOST:
                all_diffs[-1]["detail"] = reader.tree_error(key.path)
            if key.family == "syntax":
                _, _, rest = key.path.partition("/")
                oracle_wanted.append(groups[gname].root / rest)
        one_sided = [
            (who, p, why)
            for who, mine, other in (("drain-ls", ours, theirs), ("ruff", theirs, ours))
            for p, why in mine.unreadable.items()
            if p not in other.unreadable
        ]
        for who, p, why in one_sided:
            all_diffs.append(
                {
                    "group": gname,
                    "side": f"unreadable for {who} only",
                    "path": p,
                    "cell": None,
                    "line": 0,
                    "code": None,
                    "name": None,
                    "message": why,
                    "category": f"unreadable for {who} only",
                    "source": "",
                }
            )
        both_unreadable = set(ours.unreadable) & set(theirs.unreadable)
        if ours.unreadable or theirs.unreadable:
            n_o, n_r, n_b = len(ours.unreadable), len(theirs.unreadable), len(both_unreadable)
            lines.append(
                f"| {gname} | not checked (unreadable) | {n_r} | {n_o} | {n_b} | {n_o - n_b} | "
                f"{n_r - n_b} | | |"
            )

    verdicts = oracle(args.oracle_python, oracle_wanted)
    oracle_version = _version([args.oracle_python, "--version"]) if args.oracle_python else "?"
    for d in all_diffs:
        if d["code"] in ("E999", "invalid-syntax"):
            _, _, rest = d["path"].partition("/")
            p = str(groups[d["group"]].root / rest)
            d["cpython"] = verdicts.get(p)
            if d["cpython"]:
                d["category"] += (
                    f" [CPython {oracle_version}: "
                    + ("ok" if d["cpython"] == "ok" else "error")
                    + "]"
                )

    # Categories.
    by_cat: dict[str, list[dict]] = defaultdict(list)
    for d in all_diffs:
        by_cat[d["category"]].append(d)
    lines += [
        "",
        "## Disagreement categories (guessed from the file; every row in the JSON)",
        "",
        "| disagreements | category | codes | groups | top packages | examples |",
        "|---:|---|---|---|---|---|",
    ]
    for cat, items in sorted(by_cat.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        gs = ", ".join(f"{g} {n}" for g, n in Counter(d["group"] for d in items).most_common())
        examples = "<br>".join(
            f"`{d['path']}:{d['line']}` {d['code']} {(d['name'] or d['message'])[:60]}"
            + (f" — `{d['source'][:70]}`" if d["source"] else "")
            + (f" ({d['detail']})" if d.get("detail") else "")
            for d in _spread(items, 3)
        ).replace("|", "\\|")
        codes = ", ".join(f"{c} {n}" for c, n in Counter(d["code"] for d in items).most_common())
        pkgs = ", ".join(
            f"{p} {n}"
            for p, n in Counter(
                d["path"].split("/")[1] for d in items if d["path"].startswith("pkgs/")
            ).most_common(4)
        )
        lines.append(
            f"| {len(items)} | {cat.replace('|', '/')} | {codes} | {gs} | {pkgs} | {examples} |"
        )

    # Speed.
    if any(len(t) for t in timings.values()) and not args.no_speed:
        lines += _speed(timings, loads, args.runs, warm_mismatch)

    report = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = (f"_{args.name}" if args.name else "") + ("_quick" if args.quick else "")
    (args.out / f"check_corpus{suffix}.md").write_text(report)
    (args.out / f"check_corpus_timings{suffix}.json").write_text(
        json.dumps({"timings": timings, "load": loads}, indent=1) + "\n"
    )
    (args.out / f"check_corpus_disagreements{suffix}.json").write_text(
        json.dumps(all_diffs, indent=1, ensure_ascii=False) + "\n"
    )
    print(report)
    print(
        f"wrote {args.out / f'check_corpus{suffix}.md'} and "
        f"{args.out / f'check_corpus_disagreements{suffix}.json'} ({len(all_diffs)} rows)",
        file=sys.stderr,
    )


def _spread(items: list[dict], n: int) -> list[dict]:
    """Up to ``n`` examples, from different files where possible."""
    out, seen = [], set()
    for d in items:
        if d["path"] not in seen:
            out.append(d)
            seen.add(d["path"])
        if len(out) == n:
            break
    return out


def _speed(
    timings: dict[str, dict[str, list[float]]],
    loads: dict[str, tuple[float, float]],
    runs: int,
    warm_mismatch: dict[str, int],
) -> list[str]:
    names: list[str] = []
    for t in timings.values():
        names += [n for n in t if n not in names]
    drain = next((n for n in names if n.startswith("drain-ls")), None)
    lines = [
        "",
        f"## Speed (wall seconds; best of {runs} rounds, each tool once per round; pyflakes "
        "and pydocstyle one run)",
        "",
        f"{os.cpu_count()} shared cores; other processes were running (load average before → "
        "after each "
        "group below), so these timings are provisional.",
        "",
        "| tool | " + " | ".join(timings) + " | total | vs parse floor | vs ruff --no-cache |",
        "|---|" + "---:|" * (len(timings) + 3),
    ]
    best: dict[str, float] = {}
    for n in names:
        cells = []
        total = 0.0
        complete = True
        for t in timings.values():
            if t.get(n):
                cells.append(
                    f"{min(t[n]):.2f}"
                    + (f" (med {statistics.median(t[n]):.2f})" if len(t[n]) > 2 else "")
                )
                total += min(t[n])
            else:
                cells.append("—")
                complete = False
        if complete:
            best[n] = total
        lines.append(
            f"| {n} | "
            + " | ".join(cells)
            + f" | {total:.2f}"
            + ("" if complete else " (partial)")
            + " | | |"
        )
    floor = best.get(FLOOR)
    ruff = best.get("ruff --no-cache")
    # fill the ratio columns
    out = []
    for line in lines:
        m = re.match(r"\| (.+?) \|", line)
        if m and m.group(1) in best and line.endswith(" | | |"):
            v = best[m.group(1)]
            f = f"{v / floor:.2f}x" if floor else ""
            r = f"{v / ruff:.1f}x" if ruff else ""
            line = line[: -len(" | | |")] + f" | {f} | {r} |"
        out.append(line)
    lines = out
    lines.append(
        "| load average | "
        + " | ".join(f"{a:.1f} → {b:.1f}" for a, b in loads.values())
        + " | | | |"
    )
    lines.append("")
    if drain and floor:
        lines.append(
            f"- `drain-ls check` / parse floor: **{best[drain] / floor:.2f}x** "
            "(goal: at most 1.3x). Per group: "
            + ", ".join(
                f"{g} {min(t[drain]) / min(t[FLOOR]):.2f}x"
                for g, t in timings.items()
                if t.get(drain) and t.get(FLOOR)
            )
            + "."
        )
    if drain and floor:
        # Runs of one round are back to back, so they share the machine's load: the median
        # of the per-round ratios is steadier than a ratio of bests taken in other rounds.
        paired = [
            f"{g} {statistics.median(a / b for a, b in zip(t[drain], t[FLOOR], strict=True)):.2f}x"
            for g, t in timings.items()
            if t.get(drain) and len(t[drain]) == len(t.get(FLOOR, ()))
        ]
        lines.append("- the same, median of per-round ratios: " + ", ".join(paired) + ".")
    if drain and ruff:
        lines.append(f"- drain-ls / ruff, both without a cache: **{best[drain] / ruff:.1f}x**.")
    if "drain-ls warm" in best and "ruff warm" in best:
        lines.append(
            f"- warm runs: drain-ls {best['drain-ls warm']:.2f} s, ruff "
            f"{best['ruff warm']:.2f} s; drain-ls cold/warm "
            f"**{best[drain] / best['drain-ls warm']:.1f}x** (goal: at least 10x)."
        )
    elif "ruff warm" in best:
        lines.append(
            f"- ruff warm (cache primed) {best['ruff warm']:.2f} s vs --no-cache "
            f"{ruff:.2f} s; drain-ls has no cache to compare yet."
        )
    if drain and "pyflakes" in best and "pydocstyle" in best:
        peers = best["pyflakes"] + best["pydocstyle"]
        lines.append(
            f"- (pyflakes + pydocstyle) / drain-ls: **{peers / best[drain]:.1f}x** "
            "(goal: at least 20x; they run in one process, drain-ls on all cores)."
        )
    for name, n in warm_mismatch.items():
        lines.append(
            f"- {name}: {n} findings differ from the run without a cache"
            + (" (must be 0)" if n else " (same findings)")
            + "."
        )
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
