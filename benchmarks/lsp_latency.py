"""Language server latency and memory: drain-ls against `ruff server`, same client, same session.

    python benchmarks/lsp_latency.py [--edits N] [--seed S] [--skip-ruff]

For each server process, with the same LSP client and the same typing session:

1. ``typing.py`` from this interpreter's standard library, then a generated 10,000-line
   module: N single-character edits (a character typed, then deleted) at varied places, each
   ``didChange`` timed to the ``publishDiagnostics`` of that version (closed loop: the next
   edit waits for the previous diagnostics). drain-ls runs with ``diagnostics.debounceMs = 0``.
2. Code action and hover round trips on ``typing.py`` (drain-ls; ruff has no hover).
3. Resident memory of the server after opening 200 standard-library files.

Both servers check the same rules (F401 and D100-D107).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient

CODES = ["F401", "D100", "D101", "D102", "D103", "D104", "D105", "D106", "D107"]


class Client:
    """A pygls client that timestamps every publishDiagnostics."""

    def __init__(self) -> None:
        self.client = LanguageClient("drain-ls-bench", "1")
        self.published: list[tuple[float, str, int | None]] = []
        self.event = asyncio.Event()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def publish(params: types.PublishDiagnosticsParams) -> None:
            self.published.append((time.perf_counter(), params.uri, params.version))
            self.event.set()

        @self.client.feature(types.WINDOW_LOG_MESSAGE)
        def log(params: types.LogMessageParams) -> None:
            pass

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def show(params: types.ShowMessageParams) -> None:
            pass

        @self.client.feature(types.WORKSPACE_CONFIGURATION)
        def configuration(params: types.ConfigurationParams) -> list[Any]:
            return [None for _ in params.items]

    async def start(self, command: list[str], root: Path, options: dict[str, Any]) -> None:
        await self.client.start_io(*command)
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

    async def published_for(self, uri: str, version: int, since: float) -> float:
        """Wait for the diagnostics of ``version`` (or, without versions, the next ones)."""
        while True:
            for stamp, target, published_version in reversed(self.published):
                if stamp < since:
                    break
                if target == uri and (published_version is None or published_version >= version):
                    return stamp
            self.event.clear()
            await asyncio.wait_for(self.event.wait(), timeout=30)

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()

    @property
    def pid(self) -> int:
        server = getattr(self.client, "_server", None)
        return int(server.pid) if server is not None else 0


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
        client.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[change],
            )
        )
        stamp = await client.published_for(uri, version, start)
        latencies.append((stamp - start) * 1000)
    return latencies


def generated_module(lines: int) -> str:
    """A realistic module: documented classes and functions, imports in use, and a finding
    every fifty definitions (a missing docstring)."""
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

    return {"p50": at(0.50), "p95": at(0.95), "p99": at(0.99), "n": float(len(values))}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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


async def run_server(
    name: str, command: list[str], options: dict[str, Any], args: argparse.Namespace, workdir: Path
) -> dict[str, Any]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    typing_text = (stdlib / "typing.py").read_text()
    big_text = generated_module(10_000)
    results: dict[str, Any] = {}

    client = Client()
    await client.start(command, workdir, options)
    try:
        for label, text in (("typing.py", typing_text), ("10k-line module", big_text)):
            path = workdir / ("typing_copy.py" if label == "typing.py" else "big_module.py")
            path.write_text(text)
            uri = client.open(path, text)
            await client.published_for(uri, 1, 0.0)
            session = typing_session(text, args.edits, random.Random(args.seed))
            results[label] = percentiles(await type_session(client, uri, session))
        if name == "drain-ls":
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
    await client.start(command, workdir, options)
    try:
        files = sorted(p for p in stdlib.glob("*.py"))[:200]
        for path in files:
            client.open(path, path.read_text(encoding="utf-8", errors="replace"))
        last = files[-1].as_uri()
        await client.published_for(last, 1, 0.0)
        await asyncio.sleep(0.5)
        results["rss_mb_200_files"] = rss_mb(client.pid)
    finally:
        await client.stop()
    return results


async def main_async(args: argparse.Namespace) -> int:
    servers: list[tuple[str, list[str], dict[str, Any]]] = [
        (
            "drain-ls",
            [sys.executable, "-m", "drain_ls", "--stdio"],
            {"diagnostics": {"debounceMs": 0}, "select": CODES},
        )
    ]
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not args.skip_ruff and Path(ruff).exists():
        servers.append(("ruff server", [ruff, "server"], {"settings": {"lint": {"select": CODES}}}))
    report: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, command, options in servers:
            print(f"running {name}...", file=sys.stderr)
            report[name] = await run_server(name, command, options, args, Path(tmp))

    lines = [
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
    drain = report["drain-ls"]
    lines += ["", "| drain-ls request on typing.py | p50 | p95 | p99 |", "|---|---:|---:|---:|"]
    for kind in ("codeAction", "hover"):
        r = drain[kind]
        lines.append(f"| {kind} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} |")
    lines += ["", "| server | resident memory after opening 200 stdlib files |", "|---|---:|"]
    for name, results in report.items():
        lines.append(f"| {name} | {results['rss_mb_200_files']:.0f} MB |")
    print("\n".join(lines))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "lsp_latency.md").write_text("\n".join(lines) + "\n")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--edits", type=int, default=300)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-ruff", action="store_true")
    args = parser.parse_args()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    raise SystemExit(main())
