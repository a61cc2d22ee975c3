"""Language server latency and memory: drain-ls against `ruff server`, same client, same session.

    python benchmarks/lsp_latency.py [--quick] [--parts classic,shapes,memory] [--skip-ruff]
        [--files typing,generated] [--edits N] [--requests N] [--seed S] [--reps N]
        [--word-edits N] [--timeout S] [--settle S] [--huge-mb M] [--huge-timeout S]

Three parts, all with the same plain LSP client (pygls) over stdio, drain-ls started as
``python -m drain_ls --stdio`` with ``diagnostics.debounceMs = 0`` and ``ruff server``; both
check the same rules (F401 and D100-D107):

classic (``results/lsp_latency.md``), one server after the other:
  1. ``typing.py`` from this interpreter's standard library, then a 10,000-line module
     (``generated_module``): N single-character edits (a character typed, then deleted) at
     varied places, each ``didChange`` timed to the ``publishDiagnostics`` of that version
     (closed loop: the next edit waits for the previous diagnostics).
  2. Code action and hover round trips on ``typing.py`` (drain-ls).
  3. Resident memory of the server after opening 200 standard-library files.

shapes (``results/lsp_latency_shapes.md``), both servers in one run, interleaved:
  Edit shapes typed one character per ``didChange`` and then erased one character per
  ``didChange``, at the top (the first import, inside the first 5% of the file), middle
  (the first module-level statement in the second half) and end (the last module-level
  statement) of ``typing.py`` and of a generated 10,000-line module (``gen_module.py``,
  seed 17). Openers ``( [ { " ' \"\"\" ''' # \\`` are typed at the end of the anchor
  line; ``def f(`` and ``from x import (`` on a new line (Enter, then the characters) above
  it; ``@decorator`` on a new line above the first ``def``/``class`` at or after it. Then
  random words typed and erased at random places (seeded). Each server keeps its own copy
  of the file open; shape by shape, one server plays the shape, then the other, and which
  one goes first alternates. Before each shape the server has been quiet (nothing sent,
  nothing published) for ``--settle`` seconds, so every shape starts from a settled server,
  as after a pause (drain-ls analyses in full 0.3 s after the last keystroke).

  For every edit: the time from sending ``didChange`` to the first ``publishDiagnostics``
  for that document whose ``version`` is that version or newer (a newer one supersedes
  it; drain-ls may publish a version twice, the first counts), and the time to the response
  of a hover sent right behind the ``didChange`` (at the cursor). Closed loop: the next edit
  is sent once both arrived. ruff 0.17.6 pushes
  diagnostics with their ``version`` when the client does not announce pull diagnostics
  (``textDocument.diagnostic``); this client announces it to neither server, so both push,
  and both are matched on the version (a publish without a version would count as the
  next one after the edit). ruff answers a hover outside a ``noqa`` comment with null,
  promptly: its figure is a round trip through its loop, as drain-ls's is.

  An edit unanswered after ``--timeout`` seconds counts as that many seconds (reported as
  timeouts); after 3 timeouts in a row, or if the server exits, the rest of the shape is
  skipped (counted), the server is restarted and the file reopened for the next shape.

memory (in the shapes report), one server after the other: resident memory (the server's
process and its children) after opening 200 standard-library files, then after opening a
generated 30 MB module: its first publish, the peak and settled memory, whether hovers on
another open file are answered within 1 s while the server processes it, and one
keystroke (an Enter near the top) in it.

``--quick`` runs fewer repetitions and edits, in under 2 minutes when the servers are fast.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import collections
import concurrent.futures
import contextlib
import gc
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gen_module import generate_megabytes, generate_module
from lsprotocol import types
from pygls.lsp.client import LanguageClient

CODES = ["F401", "D100", "D101", "D102", "D103", "D104", "D105", "D106", "D107"]
RESULTS = Path(__file__).parent / "results"
STDLIB = Path(sysconfig.get_paths()["stdlib"])


class ServerDied(Exception):
    """The server process exited."""


class Client:
    """A pygls client that timestamps every publishDiagnostics and survives a dying server."""

    def __init__(self) -> None:
        self.client = LanguageClient("drain-ls-bench", "1")
        self.published: list[tuple[float, str, int | None]] = []
        self.event = asyncio.Event()
        self.last_publish = 0.0
        self.last_sent = 0.0
        # uri -> (newest version published, stamp of its first publish)
        self.latest: dict[str, tuple[int | None, float]] = {}
        self.waiters: list[tuple[str, int, float, asyncio.Future[float]]] = []
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._stderr_task: asyncio.Task[None] | None = None

        def publish(params: types.PublishDiagnosticsParams) -> None:
            stamp = time.perf_counter()
            self.published.append((stamp, params.uri, params.version))
            self.last_publish = stamp
            previous = self.latest.get(params.uri)
            if previous is None or params.version is None or previous[0] != params.version:
                self.latest[params.uri] = (params.version, stamp)
            for waiter in list(self.waiters):
                uri, version, since, future = waiter
                if uri != params.uri or stamp < since:
                    continue
                if params.version is None or params.version >= version:
                    self.waiters.remove(waiter)
                    if not future.done():
                        future.set_result(stamp)
            self.event.set()

        def ignore(params: Any) -> None:
            pass

        def configuration(params: types.ConfigurationParams) -> list[Any]:
            return [None for _ in params.items]

        register: Callable[[str], Callable[[Callable[..., Any]], Any]] = self.client.feature
        register(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)(publish)
        register(types.WINDOW_LOG_MESSAGE)(ignore)
        register(types.WINDOW_SHOW_MESSAGE)(ignore)
        register(types.WORKSPACE_CONFIGURATION)(configuration)

    async def start(self, command: list[str], root: Path, options: dict[str, Any]) -> None:
        await self.client.start_io(*command)
        process = self.process
        if process is not None and process.stderr is not None:
            # pygls pipes stderr and never reads it: a chatty server would block on a full pipe.
            self._stderr_task = asyncio.create_task(self._read_stderr(process.stderr))
        # ruff's capabilities (a notebook selector without "notebook") do not fit lsprotocol's
        # types: keep the initialize result as plain JSON.
        protocol = self.client.protocol
        result_type = protocol.get_result_type
        protocol.get_result_type = lambda method: (  # type: ignore[method-assign]
            None if method == types.INITIALIZE else result_type(method)
        )
        capabilities = types.ClientCapabilities(
            general=types.GeneralClientCapabilities(
                position_encodings=[types.PositionEncodingKind.Utf16]
            ),
            text_document=types.TextDocumentClientCapabilities(
                publish_diagnostics=types.PublishDiagnosticsClientCapabilities(
                    version_support=True
                ),
                code_action=types.CodeActionClientCapabilities(
                    code_action_literal_support=types.ClientCodeActionLiteralOptions(
                        code_action_kind=types.ClientCodeActionKindOptions(
                            value_set=[types.CodeActionKind.QuickFix]
                        )
                    ),
                    resolve_support=types.ClientCodeActionResolveOptions(properties=["edit"]),
                ),
            ),
        )
        await self.client.initialize_async(
            types.InitializeParams(
                capabilities=capabilities,
                root_uri=root.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name="bench")],
                initialization_options=options,
            )
        )
        self.client.initialized(types.InitializedParams())

    async def _read_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.stderr_tail.append(line.decode(errors="replace").rstrip())

    @property
    def process(self) -> asyncio.subprocess.Process | None:
        server = getattr(self.client, "_server", None)
        return server if isinstance(server, asyncio.subprocess.Process) else None

    @property
    def alive(self) -> bool:
        process = self.process
        return process is not None and process.returncode is None

    @property
    def pid(self) -> int:
        process = self.process
        return process.pid if process is not None else 0

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    def change(
        self, uri: str, version: int, change: types.TextDocumentContentChangePartial
    ) -> None:
        self.last_sent = time.perf_counter()
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[change],
            )
        )

    def hover(self, uri: str, position: types.Position) -> asyncio.Future[float]:
        """Send a hover now; the future gives the time its response (or error) arrived."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[float] = loop.create_future()

        def done(_: concurrent.futures.Future[Any]) -> None:
            stamp = time.perf_counter()
            if not answered.done():
                answered.set_result(stamp)

        params = types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=position
        )
        request: concurrent.futures.Future[Any] = self.client.text_document_hover(params)
        request.add_done_callback(lambda f: loop.call_soon_threadsafe(done, f))
        return answered

    async def published_for(self, uri: str, version: int, since: float) -> float:
        """Wait for the diagnostics of ``version`` (or, without versions, the next ones)."""
        stamp = await self.wait_published(uri, version, since, 30.0)
        if stamp is None:
            raise TimeoutError(f"no diagnostics for {uri} version {version} in 30 s")
        return stamp

    async def wait_published(
        self, uri: str, version: int, since: float, timeout: float
    ) -> float | None:
        """The stamp of the first publish for ``uri`` at ``version`` or newer after ``since``;
        None after ``timeout`` seconds; ServerDied if the server exits meanwhile."""
        latest = self.latest.get(uri)
        if (
            latest is not None
            and latest[1] >= since
            and (latest[0] is None or latest[0] >= version)
        ):
            return latest[1]
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        waiter = (uri, version, since, future)
        self.waiters.append(waiter)
        try:
            return await self._await(future, timeout)
        finally:
            if waiter in self.waiters:
                self.waiters.remove(waiter)

    async def _await(self, future: asyncio.Future[float], timeout: float) -> float | None:
        process = self.process
        if process is None or process.returncode is not None:
            raise ServerDied
        exited = asyncio.ensure_future(process.wait())
        try:
            either: list[asyncio.Future[Any]] = [future, exited]
            await asyncio.wait(either, timeout=max(0.0, timeout), return_when="FIRST_COMPLETED")
        finally:
            exited.cancel()
        if future.done():
            return future.result()
        if process.returncode is not None:
            raise ServerDied
        return None

    async def answered(self, future: asyncio.Future[float], timeout: float) -> float | None:
        """The stamp of a hover's response, None after ``timeout`` seconds."""
        if future.done():
            return future.result()
        return await self._await(future, timeout)

    async def quiet(self, seconds: float, limit: float) -> None:
        """Return once nothing was sent or published for ``seconds`` (or after ``limit``)."""
        start = time.perf_counter()
        while self.alive:
            now = time.perf_counter()
            gap = now - max(self.last_publish, self.last_sent)
            if gap >= seconds or now - start >= limit:
                return
            await asyncio.sleep(seconds - gap)

    async def stop(self, timeout: float = 5.0) -> None:
        """Shut the server down; kill it if it does not answer (or is stuck)."""
        process = self.process
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(self.client.shutdown_async(None), timeout)
                self.client.exit(None)
                await asyncio.wait_for(process.wait(), timeout)
            except (TimeoutError, RuntimeError, OSError, ConnectionError):
                pass
            if process.returncode is None:
                process.kill()
                await process.wait()
        with contextlib.suppress(TimeoutError, RuntimeError, OSError, ConnectionError):
            await asyncio.wait_for(self.client.stop(), timeout)  # type: ignore[no-untyped-call]
        if self._stderr_task is not None:
            self._stderr_task.cancel()


def typing_session(text: str, edits: int, rng: random.Random) -> list[tuple[int, int, str]]:
    """(line, character, text) edits: type a character somewhere, then delete it."""
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    session = []
    for _ in range(edits // 2):
        row = rng.choice(candidates)
        column = rng.randint(0, len(lines[row]))
        session.append((row, column, "x"))
        session.append((row, column, ""))
    return session


async def type_session(
    client: Client, uri: str, session: list[tuple[int, int, str]]
) -> list[float]:
    """Send each edit and time it to its diagnostics (milliseconds)."""
    latencies = []
    version = 1
    for row, column, new in session:
        version += 1
        end = column + (0 if new else 1)
        change = types.TextDocumentContentChangePartial(
            range=types.Range(
                start=types.Position(line=row, character=column),
                end=types.Position(line=row, character=end),
            ),
            text=new,
        )
        start = time.perf_counter()
        client.change(uri, version, change)
        stamp = await client.published_for(uri, version, start)
        latencies.append((stamp - start) * 1000)
    return latencies


def generated_module(lines: int) -> str:
    """A realistic module: documented classes and functions, imports in use, and a finding
    every fifty definitions (a missing docstring). (The classic part's module, kept so its
    figures stay comparable; the shapes use ``gen_module.generate_module``.)"""
    out = ['"""A generated module."""', "import os", "import sys", "import json", ""]
    i = 0
    while len(out) < lines:
        doc = [] if i % 50 == 49 else [f'    """Compute thing {i}."""']
        out += [
            f"class Thing{i}:",
            f'    """Thing {i}."""',
            "",
            "    def method(self, value: int = 0) -> int:",
            '        """Double big values."""',
            "        if value > 10:",
            "            return value * 2",
            "        return os.sep.count(str(value)) + len(sys.argv)",
            "",
            f"def function_{i}(a, b):",
            *doc,
            "    for x in range(a):",
            "        b += json.dumps(x).count('1')",
            "    return b",
            "",
        ]
        i += 1
    return "\n".join(out[:lines]) + "\n"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]

    return {
        "p50": at(0.50),
        "p95": at(0.95),
        "p99": at(0.99),
        "worst": ordered[-1],
        "n": float(len(values)),
    }


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (worker processes), in MB."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children[ppid].append(int(entry.name))
    total = 0.0
    found = False
    pending = [pid]
    while pending:
        current = pending.pop()
        pending += children.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
                found = True
    return total if found else float("nan")


async def request_latencies(
    client: Client, uri: str, text: str, rng: random.Random, n: int
) -> dict[str, list[float]]:
    lines = text.split("\n")
    defs = [
        (i, line.index("def ") + 4)
        for i, line in enumerate(lines)
        if line.lstrip().startswith("def ")
    ]
    out: dict[str, list[float]] = {"codeAction": [], "hover": []}
    for _ in range(n):
        row = rng.randrange(len(lines))
        position = types.Position(line=row, character=rng.randint(0, len(lines[row])))
        start = time.perf_counter()
        await client.client.text_document_code_action_async(
            types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                range=types.Range(start=position, end=position),
                context=types.CodeActionContext(diagnostics=[]),
            )
        )
        out["codeAction"].append((time.perf_counter() - start) * 1000)
        row, column = rng.choice(defs)
        start = time.perf_counter()
        await client.client.text_document_hover_async(
            types.HoverParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=types.Position(line=row, character=column),
            )
        )
        out["hover"].append((time.perf_counter() - start) * 1000)
    return out


@dataclass(frozen=True)
class Server:
    name: str
    command: list[str]
    options: dict[str, Any]


def servers(skip_ruff: bool) -> list[Server]:
    out = [
        Server(
            "drain-ls",
            [sys.executable, "-m", "drain_ls", "--stdio"],
            {"diagnostics": {"debounceMs": 0}, "select": CODES},
        )
    ]
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not skip_ruff and Path(ruff).exists():
        out.append(
            Server("ruff server", [ruff, "server"], {"settings": {"lint": {"select": CODES}}})
        )
    return out


# ---------------------------------------------------------------------------------------------
# classic: the original measurements


async def run_classic_server(
    server: Server, args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    typing_text = (STDLIB / "typing.py").read_text()
    big_text = generated_module(10_000)
    results: dict[str, Any] = {}

    client = Client()
    await client.start(server.command, workdir, server.options)
    try:
        for label, text in (("typing.py", typing_text), ("10k-line module", big_text)):
            path = workdir / ("typing_copy.py" if label == "typing.py" else "big_module.py")
            path.write_text(text)
            uri = client.open(path, text)
            await client.published_for(uri, 1, 0.0)
            session = typing_session(text, args.edits, random.Random(args.seed))
            results[label] = percentiles(await type_session(client, uri, session))
        if server.name == "drain-ls":
            path = workdir / "typing_requests.py"
            path.write_text(typing_text)
            uri = client.open(path, typing_text)
            await client.published_for(uri, 1, 0.0)
            requests = await request_latencies(
                client, uri, typing_text, random.Random(args.seed), args.requests
            )
            for kind, values in requests.items():
                results[kind] = percentiles(values)
    finally:
        await client.stop()

    client = Client()
    await client.start(server.command, workdir, server.options)
    try:
        files = sorted(p for p in STDLIB.glob("*.py"))[:200]
        for path in files:
            client.open(path, path.read_text(encoding="utf-8", errors="replace"))
        last = files[-1].as_uri()
        await client.published_for(last, 1, 0.0)
        await asyncio.sleep(0.5)
        results["rss_mb_200_files"] = rss_mb(client.pid)
    finally:
        await client.stop()
    return results


async def run_classic(args: argparse.Namespace, workdir: Path) -> list[str]:
    report: dict[str, dict[str, Any]] = {}
    for server in servers(args.skip_ruff):
        print(f"classic: running {server.name}...", file=sys.stderr)
        try:
            report[server.name] = await run_classic_server(server, args, workdir)
        except (ServerDied, TimeoutError, RuntimeError) as error:
            print(f"classic: {server.name} failed: {error!r}", file=sys.stderr)

    lines = [
        "## Classic session",
        "",
        f"{args.edits} single-character edits per file (seed {args.seed}), closed loop; "
        "didChange to publishDiagnostics of that version, in milliseconds.",
        "",
        "| server | file | p50 | p95 | p99 |",
        "|---|---|---:|---:|---:|",
    ]
    for name, results in report.items():
        for label in ("typing.py", "10k-line module"):
            r = results[label]
            lines.append(f"| {name} | {label} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} |")
    drain = report.get("drain-ls")
    if drain is not None:
        lines += ["", "| drain-ls request on typing.py | p50 | p95 | p99 |", "|---|---:|---:|---:|"]
        for kind in ("codeAction", "hover"):
            r = drain[kind]
            lines.append(f"| {kind} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} |")
    lines += ["", "| server | resident memory after opening 200 stdlib files |", "|---|---:|"]
    for name, results in report.items():
        lines.append(f"| {name} | {results['rss_mb_200_files']:.0f} MB |")
    for name in (s.name for s in servers(args.skip_ruff)):
        if name not in report:
            lines.append(f"\n{name} failed (see stderr).")
    return lines


# ---------------------------------------------------------------------------------------------
# shapes: the edit-shape catalogue

OPENERS = ["(", "[", "{", '"', "'", '"""', "'''", "#", "\\"]
STATEMENTS = ["def f(", "from x import ("]
DECORATOR = "@decorator"
SHAPES = [*OPENERS, *STATEMENTS, DECORATOR]
RANDOM = "random words"
POSITIONS = ["top", "middle", "end"]
WORDS = ["value", "self", "result", "None", "return", "items", "count", "x", "len", "await"]


@dataclass(frozen=True)
class Edit:
    """Replace (row, col)-(end_row, end_col) with ``text``, in Python string columns."""

    row: int
    col: int
    end_row: int
    end_col: int
    text: str
    label: str


@dataclass
class Run:
    """One shape at one place, played on every server."""

    shape: str
    position: str
    rep: int
    edits: list[Edit]


@dataclass
class Sample:
    shape: str
    position: str
    rep: int
    index: int
    label: str
    line: int
    publish_ms: float | None  # None: timed out
    hover_ms: float | None


@dataclass
class FileResult:
    """Per server: the samples, skipped edits and what went wrong."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Document:
    """The client's copy of the text, to turn edits into LSP changes."""

    def __init__(self, text: str) -> None:
        self.lines = text.split("\n")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def apply(self, edit: Edit) -> tuple[types.TextDocumentContentChangePartial, types.Position]:
        """The change for ``edit`` and the cursor after it (UTF-16)."""
        start = types.Position(line=edit.row, character=utf16(self.lines[edit.row][: edit.col]))
        end = types.Position(
            line=edit.end_row, character=utf16(self.lines[edit.end_row][: edit.end_col])
        )
        before = self.lines[edit.row][: edit.col]
        after = self.lines[edit.end_row][edit.end_col :]
        inserted = (before + edit.text + after).split("\n")
        self.lines[edit.row : edit.end_row + 1] = inserted
        last = inserted[-1]
        cursor = types.Position(
            line=edit.row + len(inserted) - 1, character=utf16(last[: len(last) - len(after)])
        )
        change = types.TextDocumentContentChangePartial(
            range=types.Range(start=start, end=end), text=edit.text
        )
        return change, cursor


def type_and_erase(row: int, col: int, text: str, what: str) -> list[Edit]:
    """``text`` typed at (row, col) one character per edit, then erased from its end."""
    n = len(text)
    typed = [
        Edit(row, col + i, row, col + i, c, f"type {what} {i + 1}/{n}") for i, c in enumerate(text)
    ]
    erased = [
        Edit(row, col + i, row, col + i + 1, "", f"erase {what} {n - i}/{n}")
        for i in reversed(range(n))
    ]
    return typed + erased


def on_new_line(row: int, text: str, what: str) -> list[Edit]:
    """Enter at the start of ``row``, ``text`` typed on the new line, erased, the line joined."""
    return [
        Edit(row, 0, row, 0, "\n", f"Enter for {what}"),
        *type_and_erase(row, 0, text, what),
        Edit(row, 0, row + 1, 0, "", f"join the line of {what}"),
    ]


@dataclass(frozen=True)
class Anchors:
    """0-based line numbers: per position, the line openers go on and the line new lines go
    above; and for the decorator, the first def or class at or after it."""

    line: dict[str, int]
    decorated: dict[str, int]


def anchors(text: str) -> Anchors:
    lines = text.split("\n")
    body = [
        node
        for node in ast.parse(text).body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
    ]

    def start(node: ast.stmt) -> int:
        decorators: list[ast.expr] = getattr(node, "decorator_list", [])
        return min([node.lineno, *(d.lineno for d in decorators)]) - 1

    # An opener typed after a comment would do nothing: lines with a "#" are left out.
    plain = [n for n in body if "#" not in lines[start(n)]] or body
    imports = [n for n in plain if isinstance(n, ast.Import | ast.ImportFrom)]
    early = [n for n in imports if n.lineno <= len(lines) * 0.05]
    top = start((early or imports or plain)[0])
    middle = start(next((n for n in plain if start(n) >= len(lines) // 2), plain[-1]))
    end = start(plain[-1])
    line = {"top": top, "middle": middle, "end": end}
    defs = [
        start(n)
        for n in body
        if isinstance(n, ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
    ]
    decorated = {k: next((d for d in defs if d >= v), defs[-1]) for k, v in line.items()}
    return Anchors(line, decorated)


def shape_edits(shape: str, lines: list[str], anchor: Anchors, position: str) -> list[Edit]:
    row = anchor.line[position]
    if shape in OPENERS:
        return type_and_erase(row, len(lines[row]), shape, f"`{shape}`")
    if shape == DECORATOR:
        return on_new_line(anchor.decorated[position], shape, f"`{shape}`")
    return on_new_line(row, shape, f"`{shape}`")


def word_runs(text: str, edits: int, seed: int, per_run: int) -> list[Run]:
    """Random words typed and erased at random places, cut into runs of about ``per_run``."""
    rng = random.Random(seed)
    lines = text.split("\n")
    candidates = [i for i, line in enumerate(lines) if line.strip()]
    runs: list[Run] = []
    current: list[Edit] = []
    total = 0
    while total < edits:
        row = rng.choice(candidates)
        col = rng.randint(0, len(lines[row]))
        word = rng.choice(WORDS)
        current += type_and_erase(row, col, word, f"`{word}`")
        total += 2 * len(word)
        if len(current) >= per_run or total >= edits:
            runs.append(Run(RANDOM, "random", len(runs), current))
            current = []
    return runs


class Session:
    """One server with one file open, restarted when it dies or stalls."""

    def __init__(self, server: Server, workdir: Path, label: str, text: str, timeout: float):
        self.server = server
        self.path = workdir / server.name.replace(" ", "_") / f"{label.replace(' ', '_')}.py"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(text)
        self.text = text
        self.timeout = timeout
        self.client: Client | None = None
        self.uri = ""
        self.version = 1
        self.document = Document(text)
        self.failures = 0
        self.in_a_row = 0  # edits unpublished in a row
        self.stopped = False  # the benchmark stopped the server (after reporting why)

    async def ensure(self, events: list[str]) -> bool:
        """A live server with the original text open; False if it cannot be had."""
        if self.client is not None and self.client.alive:
            return True
        if self.client is not None:
            process = self.client.process
            if process is not None and process.returncode is not None and not self.stopped:
                self.failures += 1
                tail = "; ".join(self.client.stderr_tail)[-400:]
                events.append(
                    f"{self.server.name}: exited (code {process.returncode}) between shapes"
                    + (f" (stderr: {tail})" if tail else "")
                )
            await self.client.stop()
        if self.failures > 5:
            return False
        self.client = Client()
        self.stopped = False
        self.in_a_row = 0
        try:
            await asyncio.wait_for(
                self.client.start(self.server.command, self.path.parent, self.server.options),
                30,
            )
            self.uri = self.client.open(self.path, self.text)
            self.version = 1
            self.document = Document(self.text)
            if await self.client.wait_published(self.uri, 1, 0.0, 60) is None:
                raise TimeoutError("no diagnostics for the opened file in 60 s")
        except (TimeoutError, ServerDied, RuntimeError, OSError) as error:
            self.failures += 1
            events.append(f"{self.server.name}: could not start and open the file ({error!r})")
            self.stopped = True
            await self.client.stop()
            return False
        return True

    async def restart(self, events: list[str], why: str) -> None:
        self.failures += 1
        tail = "; ".join(self.client.stderr_tail if self.client is not None else [])[-400:]
        events.append(f"{self.server.name}: {why}" + (f" (stderr: {tail})" if tail else ""))
        if self.client is not None:
            self.stopped = True
            await self.client.stop(timeout=1.0)

    async def play(self, run: Run, result: FileResult, settle: float) -> None:
        name = self.server.name
        samples = result.samples.setdefault(name, [])
        if not await self.ensure(result.events):
            result.skipped[name] = result.skipped.get(name, 0) + len(run.edits)
            return
        client = self.client
        assert client is not None
        await client.quiet(settle, limit=10)
        for index, edit in enumerate(run.edits):
            self.version += 1
            change, cursor = self.document.apply(edit)
            start = time.perf_counter()
            try:
                client.change(self.uri, self.version, change)
                hover = client.hover(self.uri, cursor)
                published = await client.wait_published(self.uri, self.version, start, self.timeout)
                answered = await client.answered(hover, start + self.timeout - time.perf_counter())
            except ServerDied:
                code = client.process.returncode if client.process is not None else None
                result.skipped[name] = result.skipped.get(name, 0) + len(run.edits) - index
                await self.restart(
                    result.events,
                    f"exited (code {code}) at {run.shape} {run.position}, {edit.label}",
                )
                return
            samples.append(
                Sample(
                    run.shape,
                    run.position,
                    run.rep,
                    index,
                    edit.label,
                    edit.row + 1,
                    None if published is None else (published - start) * 1000,
                    None if answered is None else (answered - start) * 1000,
                )
            )
            self.in_a_row = self.in_a_row + 1 if published is None else 0
            if self.in_a_row >= 3:
                result.skipped[name] = result.skipped.get(name, 0) + len(run.edits) - index - 1
                await self.restart(
                    result.events,
                    f"3 edits in a row unpublished after {self.timeout:.0f} s at {run.shape} "
                    f"{run.position}, {edit.label}: restarted",
                )
                return
        if self.document.text != self.text:
            raise AssertionError(f"{run.shape} {run.position} did not restore the text")


async def run_file(
    label: str, text: str, args: argparse.Namespace, workdir: Path, chosen: list[Server]
) -> FileResult:
    lines = text.split("\n")
    anchor = anchors(text)
    runs = [
        Run(shape, position, rep, shape_edits(shape, lines, anchor, position))
        for rep in range(args.reps)
        for position in POSITIONS
        for shape in SHAPES
    ]
    runs += word_runs(text, args.word_edits, args.seed, per_run=60)
    warmup = word_runs(text, 20, args.seed + 1, per_run=20)[0]
    result = FileResult()
    where = ", ".join(f"{k} line {v + 1}" for k, v in anchor.line.items())
    result.events.append(f"{label}: anchors {where}")
    sessions = [Session(s, workdir, label, text, args.timeout) for s in chosen]
    try:
        scratch = FileResult()
        for session in sessions:
            await session.play(warmup, scratch, args.settle)
        result.events += scratch.events
        # The client's own full collections would otherwise land in the latencies it
        # measures (of whichever server it was waiting for).
        gc.collect()
        gc.freeze()
        for k, run in enumerate(runs):
            order = sessions if k % 2 == 0 else sessions[::-1]
            for session in order:
                await session.play(run, result, args.settle)
            if k % 12 == 11:
                print(f"  {label}: {k + 1}/{len(runs)} shapes", file=sys.stderr)
    finally:
        for session in sessions:
            if session.client is not None:
                await session.client.stop()
    return result


def ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def cell_stats(
    samples: list[Sample], timeout_ms: float
) -> tuple[dict[str, float], dict[str, float], int]:
    publish = [timeout_ms if s.publish_ms is None else s.publish_ms for s in samples]
    hover = [timeout_ms if s.hover_ms is None else s.hover_ms for s in samples]
    timeouts = sum(s.publish_ms is None for s in samples) + sum(s.hover_ms is None for s in samples)
    return percentiles(publish), percentiles(hover), timeouts


def shapes_table(label: str, result: FileResult, names: list[str], timeout_ms: float) -> list[str]:
    drain, ruff = names[0], names[1] if len(names) > 1 else ""
    head = "| shape | edits | drain-ls p50 / p95 / p99 / worst |"
    rule = "|---|---:|---:|"
    if ruff:
        head += " ruff p50 / p95 / p99 / worst | ratio p95 / p99 |"
        rule += "---:|---:|"
    head += " hover p99 drain-ls" + (" / ruff |" if ruff else " |") + " timeouts |"
    rule += "---:|---:|"
    out = [head, rule]
    by_shape: dict[str, dict[str, list[Sample]]] = {}
    for name in names:
        for sample in result.samples.get(name, []):
            by_shape.setdefault(sample.shape, {}).setdefault(name, []).append(sample)
    rows = [(shape, by_shape.get(shape, {})) for shape in [*SHAPES, RANDOM]]
    every = {n: [s for s in result.samples.get(n, []) if s.shape != RANDOM] for n in names}
    rows.append(("all shapes", every))
    for shape, cells in rows:
        if not cells.get(drain):
            out.append(f"| `{shape}` | 0 | no sample |" + (" | |" if ruff else "") + " | |")
            continue
        d_pub, d_hover, d_to = cell_stats(cells[drain], timeout_ms)
        name = shape if shape in ("all shapes", RANDOM) else f"`{shape}`"
        row = f"| {name} | {len(cells[drain])} | " + " / ".join(
            ms(d_pub[k]) for k in ("p50", "p95", "p99", "worst")
        )
        hover = ms(d_hover["p99"])
        timeouts = str(d_to)
        if ruff:
            if cells.get(ruff):
                r_pub, r_hover, r_to = cell_stats(cells[ruff], timeout_ms)
                row += " | " + " / ".join(ms(r_pub[k]) for k in ("p50", "p95", "p99", "worst"))
                row += f" | {d_pub['p95'] / r_pub['p95']:.1f} / {d_pub['p99'] / r_pub['p99']:.1f}"
                hover += f" / {ms(r_hover['p99'])}"
                timeouts += f" / {r_to}"
            else:
                row += " | no sample | "
        out.append(f"{row} | {hover} | {timeouts} |")
    out += ["", f"Worst didChange -> publish by place, top / middle / end ({label}):", ""]
    out += ["| shape | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for shape in SHAPES:
        cells = by_shape.get(shape, {})
        row = f"| `{shape}` |"
        for name in names:
            worst = []
            for position in POSITIONS:
                values = [
                    timeout_ms if s.publish_ms is None else s.publish_ms
                    for s in cells.get(name, [])
                    if s.position == position
                ]
                worst.append(ms(max(values)) if values else "-")
            row += " " + " / ".join(worst) + " |"
        out.append(row)
    return out


def slowest(
    label: str, result: FileResult, names: list[str], timeout_ms: float, n: int
) -> list[str]:
    """The slowest drain-ls edits, with ruff's time for the same edit."""
    drain = names[0]
    other: dict[tuple[str, str, int, int], Sample] = {}
    if len(names) > 1:
        other = {(s.shape, s.position, s.rep, s.index): s for s in result.samples.get(names[1], [])}

    def value(s: Sample) -> float:
        return timeout_ms if s.publish_ms is None else s.publish_ms

    ranked = sorted(result.samples.get(drain, []), key=value, reverse=True)[:n]
    out = [
        f"| {label}: slowest {drain} edits | place | line | {drain} ms | hover ms |"
        + (f" {names[1]} ms |" if len(names) > 1 else ""),
        "|---|---|---:|---:|---:|" + ("---:|" if len(names) > 1 else ""),
    ]
    for s in ranked:
        hover = timeout_ms if s.hover_ms is None else s.hover_ms
        row = f"| {s.label} | {s.position} | {s.line} | {ms(value(s))} | {ms(hover)} |"
        if len(names) > 1:
            twin = other.get((s.shape, s.position, s.rep, s.index))
            row += f" {ms(value(twin)) if twin is not None else '-'} |"
        out.append(row)
    return out


async def run_shapes(args: argparse.Namespace, workdir: Path) -> list[str]:
    chosen = servers(args.skip_ruff)
    names = [s.name for s in chosen]
    files = {}
    if "typing" in args.files.split(","):
        files["typing.py"] = (STDLIB / "typing.py").read_text()
    if "generated" in args.files.split(","):
        files["generated 10,000-line module"] = generate_module(10_000, seed=17)
    timeout_ms = args.timeout * 1000
    lines = [
        "## Edit shapes",
        "",
        f"didChange -> publishDiagnostics of that version (or a newer one), ms; {args.reps} "
        f"repetition(s) of each shape at each place, {args.word_edits} random-word edits per "
        f"file (seed {args.seed}); a hover sent right behind each didChange. An edit or hover "
        f"unanswered after {args.timeout:.0f} s counts as {timeout_ms:.0f} ms (timeouts column: "
        "publishes + hovers). Ratio: drain-ls / ruff.",
        "",
    ]
    for label, text in files.items():
        print(f"shapes: {label}...", file=sys.stderr)
        started = time.perf_counter()
        result = await run_file(label, text, args, workdir, chosen)
        elapsed = time.perf_counter() - started
        lines += [f"### {label}: {text.count(chr(10)):,} lines, played in {elapsed:.0f} s", ""]
        lines += shapes_table(label, result, names, timeout_ms)
        lines += ["", *slowest(label, result, names, timeout_ms, args.slowest), ""]
        for name, count in result.skipped.items():
            if count:
                lines.append(f"- {name}: {count} edits skipped (server died or stalled)")
        lines += [f"- {event}" for event in result.events]
        lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------
# memory: 200 stdlib files, then a 30 MB file


async def sample_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], rss_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.1)


async def probe_hovers(
    client: Client, uri: str, stop: asyncio.Event, latencies: list[float], limit: float
) -> None:
    """Hover on a small open file every 0.25 s until ``stop``: how long each takes."""
    while not stop.is_set() and client.alive:
        start = time.perf_counter()
        answer = client.hover(uri, types.Position(line=0, character=0))
        try:
            stamp = await client.answered(answer, limit)
        except ServerDied:
            return
        latencies.append(limit * 1000 if stamp is None else (stamp - start) * 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def memory_server(
    server: Server, huge: str, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    client = Client()
    folder = workdir / f"memory_{server.name.replace(' ', '_')}"
    folder.mkdir(exist_ok=True)
    try:
        await asyncio.wait_for(client.start(server.command, folder, server.options), 30)
        files = sorted(STDLIB.glob("*.py"))[:200]
        uris = [client.open(p, p.read_text(encoding="utf-8", errors="replace")) for p in files]
        if await client.wait_published(uris[-1], 1, 0.0, 120) is None:
            out["error"] = "200 files: last one unpublished after 120 s"
            return out
        await asyncio.sleep(0.5)
        out["rss_200"] = rss_mb(client.pid)

        path = folder / "huge_module.py"
        path.write_text(huge)
        stop = asyncio.Event()
        peak = [out["rss_200"]]
        hovers: list[float] = []
        sampler = asyncio.create_task(sample_rss(client.pid, peak, stop))
        start = time.perf_counter()
        uri = client.open(path, huge)
        prober = asyncio.create_task(probe_hovers(client, uris[0], stop, hovers, 1.0))
        published = await client.wait_published(uri, 1, start, args.huge_timeout)
        out["open_ms"] = None if published is None else (published - start) * 1000
        if published is not None:
            # One keystroke: Enter at the start of line 2 (between imports), then joined back.
            for version, edit in ((2, Edit(1, 0, 1, 0, "\n", "")), (3, Edit(1, 0, 2, 0, "", ""))):
                change, cursor = Document(huge[:4096]).apply(edit)
                begin = time.perf_counter()
                client.change(uri, version, change)
                hover = client.hover(uri, cursor)
                stamp = await client.wait_published(uri, version, begin, args.huge_timeout)
                answered = await client.answered(hover, args.huge_timeout)
                key = "enter" if version == 2 else "join"
                out[f"{key}_ms"] = None if stamp is None else (stamp - begin) * 1000
                out[f"{key}_hover_ms"] = None if answered is None else (answered - begin) * 1000
                if stamp is None:
                    break
        stop.set()
        await asyncio.gather(sampler, prober)
        await asyncio.sleep(1.0)
        out["rss_huge"] = rss_mb(client.pid)
        out["peak"] = max(peak[0], out["rss_huge"])
        out["hovers"] = hovers
    except ServerDied:
        code = client.process.returncode if client.process is not None else None
        out["error"] = f"exited (code {code}); stderr: {'; '.join(client.stderr_tail)[-300:]}"
    except TimeoutError:
        out["error"] = "did not start within 30 s"
    finally:
        await client.stop(timeout=2.0)
    return out


def fmt_ms(value: Any, limit: float) -> str:
    return f"none in {limit:.0f} s" if value is None else ms(float(value))


async def run_memory(args: argparse.Namespace, workdir: Path) -> list[str]:
    huge = generate_megabytes(args.huge_mb, seed=17)
    size = len(huge.encode()) / 1e6
    lines = [
        "## Memory",
        "",
        "Resident memory (server and children) after opening 200 standard-library files, then "
        f"after opening a generated {size:.0f} MB module ({huge.count(chr(10)):,} lines): its "
        "first "
        f"publish (waited up to {args.huge_timeout:.0f} s), peak and settled memory, hovers on "
        "another open file every 0.25 s meanwhile (each given 1 s), and an Enter typed at line 2 "
        "then erased (didChange -> publish / its hover).",
        "",
        "| server | 200 files | + huge file, settled (peak) | huge file published "
        "| hovers meanwhile: worst answered, unanswered in 1 s | Enter / erase: publish (hover) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for server in servers(args.skip_ruff):
        print(f"memory: {server.name}...", file=sys.stderr)
        r = await memory_server(server, huge, workdir, args)
        if "rss_200" not in r:
            lines.append(f"| {server.name} | {r.get('error', '?')} | | | | |")
            continue
        if "rss_huge" not in r:
            lines.append(f"| {server.name} | {r['rss_200']:.0f} MB | {r.get('error', '?')} | | | |")
            continue
        hovers = r["hovers"]
        late = sum(h >= 1000 for h in hovers)
        answered = [h for h in hovers if h < 1000]
        worst = f"{ms(max(answered))} ms" if answered else "none answered"
        worst += f", {late} of {len(hovers)}" if hovers else ""
        limit = args.huge_timeout
        keys = [
            f"{fmt_ms(r.get(k), limit)} ({fmt_ms(r.get(k.replace('_ms', '_hover_ms')), limit)})"
            for k in ("enter_ms", "join_ms")
            if k in r
        ]
        lines.append(
            f"| {server.name} | {r['rss_200']:.0f} MB | +{r['rss_huge'] - r['rss_200']:.0f} MB "
            f"(+{r['peak'] - r['rss_200']:.0f}) | {fmt_ms(r['open_ms'], args.huge_timeout)} | "
            f"{worst} | {' / '.join(keys) or '-'} |"
        )
        if "error" in r:
            lines.append(f"\n{server.name}: {r['error']}")
    return lines


# ---------------------------------------------------------------------------------------------


def drain_ls_source() -> str:
    """Where ``python -m drain_ls`` comes from: the commit, and whether the tree is edited."""
    found = subprocess.run(
        [sys.executable, "-c", "import drain_ls; print(drain_ls.__file__)"],
        capture_output=True,
        text=True,
    )
    package = Path(found.stdout.strip()).parent
    git = ["git", "-C", str(package)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        return str(package)
    edited = subprocess.run(
        [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True
    ).stdout.split("\n")
    changes = [line[3:] for line in edited if line.strip()]
    where = f"{package} at {head.stdout.strip()}"
    return where + (f" with uncommitted changes to {', '.join(changes)}" if changes else "")


async def main_async(args: argparse.Namespace) -> int:
    parts = set(args.parts.split(","))
    started = time.perf_counter()
    load_before = os.getloadavg()[:2]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        RESULTS.mkdir(exist_ok=True)
        if "classic" in parts:
            classic = await run_classic(args, workdir)
            print("\n".join(classic))
            (RESULTS / "lsp_latency.md").write_text("\n".join(classic[2:]) + "\n")
        report: list[str] = []
        if "shapes" in parts:
            report += await run_shapes(args, workdir)
        if "memory" in parts:
            report += await run_memory(args, workdir)
        if report:
            mode = "quick" if args.quick else "full"
            load = ", ".join(f"{x:.1f}" for x in (*load_before, *os.getloadavg()[:1]))
            header = [
                "# drain-ls and ruff server: latency by edit shape",
                "",
                f"`python benchmarks/lsp_latency.py{' --quick' if args.quick else ''}` "
                f"({mode} mode), {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
                f"{time.strftime('%Y-%m-%d %H:%M')}, {time.perf_counter() - started:.0f} s; "
                f"load average (1, 5 min) before, and 1 min after: {load}. "
                f"drain-ls from {drain_ls_source()}.",
                "",
            ]
            text = "\n".join(header + report) + "\n"
            print(text)
            (RESULTS / "lsp_latency_shapes.md").write_text(text)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions and edits")
    parser.add_argument("--parts", default="classic,shapes,memory")
    parser.add_argument("--files", default="typing,generated", help="shapes: files played")
    parser.add_argument("--edits", type=int, help="classic: edits per file (300; quick 100)")
    parser.add_argument("--requests", type=int, help="classic: requests (300; quick 100)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--reps", type=int, help="shapes: repetitions (5; quick 1)")
    parser.add_argument("--word-edits", type=int, help="shapes: random-word edits (300; quick 100)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per edit")
    parser.add_argument(
        "--settle", type=float, help="quiet seconds before a shape (0.5; quick 0.4)"
    )
    parser.add_argument("--slowest", type=int, default=10, help="slowest edits listed per file")
    parser.add_argument("--huge-mb", type=float, default=30.0)
    parser.add_argument(
        "--huge-timeout", type=float, help="seconds for the huge file (120; quick 20)"
    )
    parser.add_argument("--skip-ruff", action="store_true")
    args = parser.parse_args()
    quick = args.quick
    defaults = {
        "edits": (300, 100),
        "requests": (300, 100),
        "reps": (5, 1),
        "word_edits": (300, 100),
        "settle": (0.5, 0.4),
        "huge_timeout": (120.0, 20.0),
    }
    for key, (full, short) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, short if quick else full)
    unknown = set(args.parts.split(",")) - {"classic", "shapes", "memory"}
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
