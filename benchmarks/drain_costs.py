"""The drain engine against the local fake API: cancellation speed, responsiveness while
drains stream, and tokens billed per generated docstring.

    python benchmarks/drain_costs.py [--rounds N]

1. Keystroke to connection closed: a drain streams (the fake holds the stream open), an
   edit touches its function, and the time from sending ``didChange`` to the fake seeing
   the client disconnect is measured, p50/p99 over ``--rounds``.
2. Hover and code action latency while 4 drains stream (slow streams), p50/p99.
3. Tokens billed per generated docstring, for a file of 20 functions: drain-ls (the scoped
   function plus a cached outline of the file) against a naive drain that sends the whole
   file for each function without caching, both through the real SDK to the fake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lsprotocol import types
from pytest_lsp import client_capabilities

from drain_ls.backends.anthropic import AnthropicBackend
from drain_ls.backends.base import DrainRequest, Progress
from drain_ls.budget import Usage, cost_usd, price_of
from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import server_config

HAIKU = price_of("claude-haiku-4-5")


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


async def start(fake: FakeAnthropic, root: Path, options: dict[str, Any]) -> Any:
    client = await server_config(
        {
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "sk-ant-bench",
            "DRAIN_LS_HOME": str(root / "home"),
        }
    ).start()
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            initialization_options=options,
        )
    )
    return client


def open_doc(client: Any, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=text
            )
        )
    )


async def until(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        await asyncio.sleep(0.001)


async def cancellation(rounds: int) -> list[float]:
    latencies = []
    with FakeAnthropic(default="hang", delay=0.01) as fake, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        client = await start(
            fake,
            root,
            {
                "llm": {"enabled": True, "backend": "anthropic"},
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
            await until(partial(lambda n: len(fake.log) > n, round_))
            await asyncio.sleep(0.05)
            version += 1
            start_time = time.monotonic()
            client.text_document_did_change(
                types.DidChangeTextDocumentParams(
                    text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                    content_changes=[
                        types.TextDocumentContentChangePartial(
                            range=types.Range(
                                start=types.Position(line=4, character=4),
                                end=types.Position(line=4, character=4),
                            ),
                            text=" ",
                        )
                    ],
                )
            )
            await until(partial(lambda n: len(fake.disconnects) > n, round_))
            latencies.append((fake.disconnects[-1]["time"] - start_time) * 1000)
        await client.shutdown_session()
    return latencies


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


def billed(fake: FakeAnthropic) -> tuple[int, float]:
    tokens = 0
    cost = 0.0
    for b in fake.billed:
        usage = Usage(b.input_tokens, b.output_tokens, b.cache_read_tokens, b.cache_write_tokens)
        tokens += usage.total
        cost += cost_usd(usage, HAIKU)
    return tokens, cost


async def tokens_per_docstring() -> dict[str, tuple[int, float]]:
    text = module(20)
    reply = '"""Compute a weighted total.\n\nArgs:\n    values: The values.\n    scale: The weight.\n\nReturns:\n    The total.\n"""'
    results = {}
    with FakeAnthropic(reply=lambda b: reply) as fake, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        client = await start(
            fake,
            root,
            {
                "llm": {"enabled": True, "backend": "anthropic"},
                "idle": {"delayMs": 20},
                "diagnostics": {"debounceMs": 0},
                "drains": {"summaries": {"enabled": False}},
            },
        )
        open_doc(client, (root / "m.py").as_uri(), text)
        await until(lambda: len(fake.billed) >= 20, timeout=60)
        await asyncio.sleep(0.5)
        await client.shutdown_session()
        docstrings = sum(1 for e in fake.log if "write Python docstrings" in e["body"])
        tokens, cost = billed(fake)
        results["drain-ls"] = (tokens // max(1, docstrings), cost / max(1, docstrings))
    with FakeAnthropic(reply=lambda b: reply) as fake:
        backend = AnthropicBackend(api_key="sk-ant-bench", base_url=fake.url)
        for i in range(20):
            await backend.complete(
                DrainRequest(
                    drain="docstrings",
                    model="claude-haiku-4-5",
                    max_tokens=400,
                    context="",
                    prompt=f"Here is a file:\n\n{text}\n\nWrite a docstring for compute_{i}.",
                    instructions="You write Python docstrings.",
                ),
                Progress(),
            )
        await backend.close()
        tokens, cost = billed(fake)
        results["naive"] = (tokens // 20, cost / 20)
    return results


async def main_async(args: argparse.Namespace) -> int:
    cancel = await cancellation(args.rounds)
    latency = await responsiveness(args.requests)
    costs = await tokens_per_docstring()
    lines = [
        f"Keystroke to connection closed ({len(cancel)} rounds): "
        f"p50 {percentile(cancel, 0.5):.2f} ms, p99 {percentile(cancel, 0.99):.2f} ms",
        "",
        "| request while 4 drains stream | p50 (ms) | p99 (ms) |",
        "|---|---:|---:|",
    ]
    for kind in ("hover", "codeAction"):
        values = latency[kind]
        lines.append(f"| {kind} | {percentile(values, 0.5):.2f} | {percentile(values, 0.99):.2f} |")
    ours, naive = costs["drain-ls"], costs["naive"]
    lines += [
        "",
        "| per generated docstring (20 functions) | tokens billed | USD (Haiku 4.5) |",
        "|---|---:|---:|",
        f"| drain-ls (scoped + cached outline) | {ours[0]} | {ours[1]:.6f} |",
        f"| naive (whole file, no cache) | {naive[0]} | {naive[1]:.6f} |",
        "",
        f"naive / drain-ls: {naive[0] / max(1, ours[0]):.1f}x tokens, "
        f"{naive[1] / max(1e-12, ours[1]):.1f}x dollars",
    ]
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
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
