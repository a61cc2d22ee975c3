"""The drain engine against the local fake API: cancellation speed, responsiveness while
drains stream, and tokens billed per generated docstring.

    python benchmarks/drain_costs.py [--rounds N]

1. Keystroke to connection closed: a drain streams (the fake holds the stream open), an
   edit touches its function, and the time from sending ``didChange`` to the fake seeing
   the client disconnect is measured, p50/p99 over ``--rounds``.
2. Hover and code action latency while 4 drains stream (slow streams), p50/p99.
3. Tokens and dollars per accepted result, per drain and per model (``--model``, repeatable;
   the catalogue's default model otherwise), under the fake's billing (the documented cache
   minimums, thinking, tokenizer ratios), on real modules: the standard library's
   ``bisect``, ``shlex``, ``textwrap``, ``fractions``, ``json.encoder`` and ``ipaddress``
   with their docstrings taken out. Against it, a naive drain that sends the whole file for
   each docstring without caching. Both through the real SDK.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import gc
import json
import re
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lsprotocol import types
from pytest_lsp import client_capabilities

from drain_ls.backends.anthropic import AnthropicBackend
from drain_ls.backends.base import DrainRequest, Progress
from drain_ls.budget import Usage, cost_usd, price_of
from drain_ls.config import build_settings
from drain_ls.engine.drains import INSTRUCTIONS, Task, validate
from drain_ls.engine.file_tasks import tasks_for_file
from drain_ls.models import default_model
from tests.fake_anthropic import FakeAnthropic
from tests.fake_openai import FakeOpenAI
from tests.lsp_support import server_config


def module(functions: int) -> str:
    parts = ['"""A module of small functions."""', "import math", ""]
    for i in range(functions):
        parts += [
            "",
            f"def compute_{i}(values, scale={i}):",
            "    total = 0",
            "    for value in values:",
            f"        if value > {i}:",
            "            total += math.sqrt(value) * scale",
            "        else:",
            "            total -= value",
            "    return total",
        ]
    return "\n".join(parts) + "\n"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))]


async def start(fake: Any, root: Path, options: dict[str, Any]) -> Any:
    env = {"DRAIN_LS_HOME": str(root / "home"), "XDG_CONFIG_HOME": str(root / "config")}
    if isinstance(fake, FakeAnthropic):
        env |= {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-ant-bench"}
    client = await server_config(env).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            initialization_options=options,
        )
    )
    # The client encodes its first didChange as slowly as the server decodes it (cattrs
    # writes the code of each type when it first meets it): not the server's latency.
    for _ in range(2):
        client.protocol._serialize_message(
            types.DidChangeTextDocumentNotification(
                types.DidChangeTextDocumentParams(
                    types.VersionedTextDocumentIdentifier(version=1, uri="file:///w.py"),
                    [
                        types.TextDocumentContentChangePartial(
                            types.Range(types.Position(0, 0), types.Position(0, 0)), ""
                        )
                    ],
                )
            )
        )
    # The client's own full collections (70-120 ms with the SDK and the fake loaded) would
    # otherwise land in the latencies it measures.
    gc.collect()
    gc.freeze()
    return client


def open_doc(client: Any, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


def change(
    client: Any, uri: str, version: int, line: int, columns: tuple[int, int], text: str
) -> None:
    """One didChange: ``columns`` of ``line`` become ``text``."""
    start, end = columns
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=line, character=start),
                        end=types.Position(line=line, character=end),
                    ),
                    text=text,
                )
            ],
        )
    )


async def until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.001)


def streams(fake: Any) -> int:
    """How many drain requests the fake has seen (not the ``openai`` backend's probes)."""
    return sum(1 for e in fake.log if e.get("path") in ("/v1/messages", "/v1/chat/completions"))


async def cancellation(rounds: int, backend: str = "anthropic") -> list[float]:
    """Keystroke to connection closed, ms, with the Anthropic backend or the ``openai`` one
    (a local Ollama played by ``tests/fake_openai.py``)."""
    latencies = []
    if backend == "openai":
        fake: Any = FakeOpenAI(default="hang", delay=0.01)
    else:
        fake = FakeAnthropic(default="hang", delay=0.01)
    with fake, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        llm: dict[str, Any] = {"enabled": True, "backend": backend}
        if backend == "openai":
            llm |= {"baseUrl": fake.base_url, "model": "qwen2.5-coder:7b"}
        client = await start(
            fake,
            root,
            {
                "llm": llm,
                "privacy": {"requireConsent": False},
                "idle": {"delayMs": 20},
                "diagnostics": {"debounceMs": 0},
                "drains": {"summaries": {"enabled": False}},
            },
        )
        uri = (root / "m.py").as_uri()
        text = '"""M."""\n\n\ndef f(x):\n    return x\n'
        open_doc(client, uri, text)
        version = 1
        for round_ in range(rounds):
            # Each round has one stream open: wait for it, edit its function, time the close.
            await until(partial(lambda n: streams(fake) > n, round_))
            await asyncio.sleep(0.05)
            version += 1
            start_time = time.monotonic()
            change(client, uri, version, 4, (4, 4), " ")
            await until(partial(lambda n: len(fake.disconnects) > n, round_))
            latencies.append((fake.disconnects[-1]["time"] - start_time) * 1000)
        await client.shutdown_session()
    return latencies


async def cancellation_in_broken_code(rounds: int) -> dict[str, list[float]]:
    """Keystroke to the drain stream's connection closed when the keystroke breaks the
    file (a `(` typed into an import near the top of a 10,000-line module, left open) and
    when it repairs it (the `(` erased), ms."""
    from gen_module import generate_module

    out: dict[str, list[float]] = {"breaks": [], "repairs": []}
    with FakeAnthropic(default="hang", delay=0.01) as fake, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        client = await start(
            fake,
            root,
            {
                "llm": {"enabled": True, "backend": "anthropic"},
                "privacy": {"requireConsent": False},
                "idle": {"delayMs": 20},
                "diagnostics": {"debounceMs": 0},
                "drains": {"concurrency": 1},
                "budget": {"dailyTokens": 100_000_000, "dailyUsd": 1000},
            },
        )
        uri = (root / "m.py").as_uri()
        text = generate_module(10_000, 17)
        # A function without a docstring at the end: a drain streams on it.
        text += "\n\ndef last_one(a, b):\n    return a + b\n"
        lines = text.split("\n")
        row = next(i for i, line in enumerate(lines) if line.startswith("import "))
        column = len(lines[row])
        open_doc(client, uri, text)
        version = 1
        opened = 0
        for round_ in range(rounds):
            for kind, keystroke in (
                ("breaks", (column, column, "(")),
                ("repairs", (column, column + 1, "")),
            ):
                # A stream is open (the file is clean for "breaks"; for "repairs", the task
                # runs on the broken version too): the keystroke closes it.
                await until(partial(lambda n: len(fake.log) > n, opened), timeout=60)
                opened = len(fake.log)
                await asyncio.sleep(0.05)
                version += 1
                start_col, end_col, new = keystroke
                closed = len(fake.disconnects)
                start_time = time.monotonic()
                change(client, uri, version, row, (start_col, end_col), new)
                await until(partial(lambda n: len(fake.disconnects) > n, closed), timeout=60)
                out[kind].append((fake.disconnects[closed]["time"] - start_time) * 1000)
            del round_
        await client.shutdown_session()
    return out


async def responsiveness(requests: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"hover": [], "codeAction": []}
    with (
        FakeAnthropic(default="slow", delay=0.05, reply=lambda b: "x" * 4000) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        root = Path(tmp)
        client = await start(
            fake,
            root,
            {
                "llm": {"enabled": True, "backend": "anthropic"},
                "privacy": {"requireConsent": False},
                "idle": {"delayMs": 20},
                "diagnostics": {"debounceMs": 0},
                "drains": {"concurrency": 4},
                "budget": {"maxTokensPerDrain": 5000},
            },
        )
        text = module(20)
        uri = (root / "m.py").as_uri()
        open_doc(client, uri, text)
        await until(lambda: len(fake.log) >= 4)
        lines = text.split("\n")
        defs = [(i, 4) for i, line in enumerate(lines) if line.startswith("def ")]
        for n in range(requests):
            row, column = defs[n % len(defs)]
            position = types.Position(line=row, character=column)
            t = time.perf_counter()
            await client.text_document_hover_async(
                types.HoverParams(
                    text_document=types.TextDocumentIdentifier(uri=uri), position=position
                )
            )
            out["hover"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    range=types.Range(start=position, end=position),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            )
            out["codeAction"].append((time.perf_counter() - t) * 1000)
        streaming = len(fake.log) - len(fake.disconnects)
        await client.shutdown_session()
        out["streams_seen"] = [float(streaming)]
    return out


# Real modules, not written for this benchmark: the standard library of the Python that runs
# it, with every docstring taken out (the drains then have work on every definition, and the
# fake answers each docstring request with the docstring that was taken out, so answers are
# as long as real ones).
WORKLOAD = (
    "bisect.py",
    "shlex.py",
    "textwrap.py",
    "fractions.py",
    "json/encoder.py",
    "ipaddress.py",
)
SUMMARY = (
    "Parses the value and returns a normalised copy of it. Watch out: it raises ValueError "
    "on malformed input rather than returning None."
)
SUGGESTION = (
    "Split the branch on the input's type into one small helper per case and dispatch on "
    "the type once; the loop then needs no nested conditions."
)
NAIVE_MARK = "You are given a whole Python file."
GENERIC = "Return the result of the computation.\n\nArgs:\n    value: The input.\n"


def strip_docstrings(source: str) -> tuple[str, dict[str, str]]:
    """``source`` without its docstrings, and qualname -> the docstring taken out."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    taken: dict[str, str] = {}
    cut: list[tuple[int, int, str | None]] = []  # (first line, last line, filler indent)

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                doc = ast.get_docstring(child, clean=False)
                first = child.body[0]
                if doc is not None and isinstance(first, ast.Expr):
                    taken[name] = doc
                    indent = " " * first.col_offset if len(child.body) == 1 else None
                    cut.append((first.lineno, first.end_lineno or first.lineno, indent))
                if isinstance(child, ast.ClassDef):
                    visit(child, f"{name}.")

    visit(tree, "")
    for first, last, indent in sorted(cut, reverse=True):
        lines[first - 1 : last] = [f"{indent}pass\n"] if indent is not None else []
    return "".join(lines), taken


def workload() -> list[tuple[str, str, dict[str, str]]]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for name in WORKLOAD:
        text, taken = strip_docstrings((stdlib / name).read_text(encoding="utf-8"))
        out.append((name, text, taken))
    return out


def replier(docstrings: dict[str, str]) -> Any:
    """The fake's answer to a request: the docstring taken out for a docstring request,
    a two-sentence summary, a suggestion."""

    def reply(body: dict[str, Any]) -> str:
        system = json.dumps(body.get("system", ""))
        prompt = json.dumps(body.get("messages", ""))
        if "docstrings" in system or NAIVE_MARK in system:
            match = re.search(r"`([A-Za-z0-9_.]+)`", prompt)
            doc = docstrings.get(match.group(1), GENERIC) if match else GENERIC
            quote = '"' * 3
            return quote + doc.replace(quote, "'" * 3).strip() + "\n" + quote
        if "summarize" in system:
            return SUMMARY
        return SUGGESTION

    return reply


@dataclass
class Tally:
    results: int = 0
    requests: int = 0
    usage: Usage = field(default_factory=Usage)
    usd: float = 0.0

    def add(self, usage: Usage, usd: float, accepted: bool) -> None:
        self.requests += 1
        self.results += accepted
        self.usage = Usage(
            self.usage.input_tokens + usage.input_tokens,
            self.usage.output_tokens + usage.output_tokens,
            self.usage.cache_read_tokens + usage.cache_read_tokens,
            self.usage.cache_write_tokens + usage.cache_write_tokens,
        )
        self.usd += usd


def ratio(naive: Tally | None, ours: Tally | None) -> float:
    """How many times more a naive docstring costs than one of drain-ls (0: no results)."""
    if not naive or not ours or not naive.results or not ours.results:
        return 0.0
    return (naive.usd / naive.results) / max(1e-12, ours.usd / ours.results)


def naive_request(task: Task, text: str) -> DrainRequest:
    """What a drain that knows no better sends: the whole file, every time, no cache (with
    the same thinking settings and max_tokens as drain-ls, to compare the prompts only)."""
    return DrainRequest(
        drain="docstrings",
        model=task.model,
        max_tokens=task.sent_max_tokens,
        context="",
        instructions=NAIVE_MARK + " " + INSTRUCTIONS["docstrings"].format(style="google"),
        prompt=f"The file:\n\n{text}\n\nWrite the docstring of `{task.qualname}`.",
    )


async def costs_per_result(models: list[str]) -> dict[str, dict[str, Tally]]:
    """model -> drain -> what its requests and accepted results cost, under the fake's
    billing; the ``naive`` row sends the whole file for each docstring."""
    files = workload()
    settings, _ = build_settings()  # a user's defaults (maxTokensPerDrain: 5,000)
    out: dict[str, dict[str, Tally]] = {}
    for model in models:
        price = price_of(model)
        assert price is not None, model
        tallies: dict[str, Tally] = {}
        for name, text, taken in files:
            tasks = tasks_for_file(
                Path("/bench") / name, settings, model, (), lambda key: None, text.encode()
            )
            naive = [("naive", naive_request(t, text)) for t in tasks if t.drain == "docstrings"]
            here: dict[str, Tally] = {}
            with FakeAnthropic(reply=replier(taken)) as fake:
                backend = AnthropicBackend(api_key="sk-ant-bench", base_url=fake.url)
                for drain, request in [(t.drain, t.request()) for t in tasks] + naive:
                    response = await backend.complete(request, Progress())
                    check = "docstrings" if drain == "naive" else drain
                    ok = not response.truncated and validate(check, response.text) is not None
                    usd = cost_usd(response.usage, price)
                    for table in (tallies, here):
                        table.setdefault(drain, Tally()).add(response.usage, usd, ok)
                await backend.close()
            tallies[f"file:{name}"] = Tally(
                results=here["naive"].results if "naive" in here else 0,
                usd=ratio(here.get("naive"), here.get("docstrings")),
            )
        out[model] = tallies
    return out


async def main_async(args: argparse.Namespace) -> int:
    cancel = await cancellation(args.rounds)
    cancel_local = await cancellation(args.rounds, "openai")
    broken = await cancellation_in_broken_code(max(10, args.rounds // 4))
    latency = await responsiveness(args.requests)
    costs = await costs_per_result(args.models or [default_model()])
    lines = [
        f"Keystroke to connection closed ({len(cancel)} rounds): "
        f"p50 {percentile(cancel, 0.5):.2f} ms, p99 {percentile(cancel, 0.99):.2f} ms",
        f"The same through the openai backend, to a local server ({len(cancel_local)} rounds): "
        f"p50 {percentile(cancel_local, 0.5):.2f} ms, "
        f"p99 {percentile(cancel_local, 0.99):.2f} ms",
        *(
            f"Keystroke that {kind} a 10,000-line module ({len(values)} rounds): "
            f"p50 {percentile(values, 0.5):.2f} ms, p99 {percentile(values, 0.99):.2f} ms"
            for kind, values in broken.items()
        ),
        "",
        "| request while 4 drains stream | p50 (ms) | p99 (ms) |",
        "|---|---:|---:|",
    ]
    for kind in ("hover", "codeAction"):
        values = latency[kind]
        lines.append(f"| {kind} | {percentile(values, 0.5):.2f} | {percentile(values, 0.99):.2f} |")
    for model, tallies in costs.items():
        lines += [
            "",
            f"Per accepted result, {model} (stdlib modules without their docstrings):",
            "",
            "| drain | results / requests | input | cache read | cache write | output | USD |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for drain in ("docstrings", "summaries", "simplify", "naive"):
            row = tallies.get(drain)
            if row is None or not row.results:
                continue
            n = row.results
            u = row.usage
            lines.append(
                f"| {drain} | {row.results} / {row.requests} | {u.input_tokens / n:.0f} | "
                f"{u.cache_read_tokens / n:.0f} | {u.cache_write_tokens / n:.0f} | "
                f"{u.output_tokens / n:.0f} | {row.usd / n:.7f} |"
            )
        overall = ratio(tallies.get("naive"), tallies.get("docstrings"))
        per_file = ", ".join(
            f"{name.removeprefix('file:')} {row.usd:.1f}x"
            for name, row in tallies.items()
            if name.startswith("file:")
        )
        lines.append(f"\nnaive / drain-ls, USD per docstring: {overall:.1f}x ({per_file})")
    print("\n".join(lines))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "drain_costs.md").write_text("\n".join(lines) + "\n")
    print(json.dumps({"streams": latency.get("streams_seen")}), file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--model", dest="models", action="append", help="a catalogue model (repeatable)"
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
