"""Custom drains: validation, tasks, composition; end to end with the real SDK and the fake API."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from lsprotocol import types

from drain_ls.analysis.source import parse
from drain_ls.engine.custom import parse_custom_drains
from drain_ls.engine.drains import MODULE
from drain_ls.engine.task_building import build_tasks
from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import fake_api_env, range_of, start_server, wait_until
from tests.settings_support import drains_of


def tasks_of(
    source: bytes,
    custom: list[Any],
    *,
    findings: dict[int, str] | None = None,
    drains: dict[str, Any] | None = None,
    model: str = "offline",
    lookup: Any = None,
) -> list[Any]:
    """The drain tasks of ``source`` (as ``m.py``, version 1) with ``custom`` drains."""
    return build_tasks(
        "file:///m.py",
        source,
        parse(source).root_node,
        1,
        findings or {},
        model=model,
        max_tokens_per_drain=5000,
        drains=drains_of(drains or {}),
        custom=custom,
        lookup=lookup,
    )


# -- validation ------------------------------------------------------------------------------


def test_a_bad_drain_is_skipped_with_the_field_named_and_the_others_run() -> None:
    drains, problems = parse_custom_drains(
        [
            {"name": "ok", "prompt": "Say something.", "scope": "function"},
            {"name": "bad-scope", "prompt": "x", "scope": "method"},
            {"name": "bad-tokens", "prompt": "x", "maxTokens": 5},
            {"name": "Bad Name", "prompt": "x"},
            {"name": "no-prompt", "prompt": "  "},
            {"name": "bad-output", "prompt": "x", "output": "popup"},
            {"name": "bad-severity", "prompt": "x", "output": "diagnostic", "severity": "fatal"},
            {"name": "bad-select", "prompt": "x", "select": "complexity>>3"},
            {"name": "module-select", "prompt": "x", "scope": "module", "select": "public"},
            {"name": "summaries", "prompt": "x"},
            {"name": "ok", "prompt": "duplicate"},
        ]
    )
    assert [d.name for d in drains] == ["ok"]
    joined = "\n".join(problems)
    for field in (
        "drains.custom[1].scope",
        "drains.custom[2].maxTokens",
        "drains.custom[3].name",
        "drains.custom[4].prompt",
        "drains.custom[5].output",
        "drains.custom[6].severity",
        "drains.custom[7].select",
        "drains.custom[8].select",
        "drains.custom[9].name",
        "drains.custom[10].name",
    ):
        assert field in joined, field
    assert len(problems) == 10


def test_after_orders_drains_and_drops_missing_and_cyclic_dependencies() -> None:
    drains, problems = parse_custom_drains(
        [
            {"name": "second", "prompt": "x", "after": "first", "scope": "module"},
            {"name": "first", "prompt": "x", "after": "summaries"},
            {"name": "orphan", "prompt": "x", "after": "nowhere"},
            {"name": "a", "prompt": "x", "after": "b"},
            {"name": "b", "prompt": "x", "after": "a"},
            {"name": "child-of-orphan", "prompt": "x", "after": "orphan"},
        ]
    )
    assert [d.name for d in drains] == ["first", "second"]
    joined = "\n".join(problems)
    assert "`nowhere`" in joined and "cycle" in joined and "child-of-orphan" in joined


def test_select_picks_definitions() -> None:
    source = b'''
def public(a):
    """Has one."""
    return a

def _private():
    pass

def branchy(x):
    if x == 1:
        return 1
    if x == 2:
        return 2
    if x == 3:
        return 3
    return 0

class Thing:
    def method(self):
        pass
'''
    missing = {source.index(b"_private"): "_private", source.index(b"branchy"): "branchy"}
    cases = {
        "all": {"public", "_private", "branchy", "Thing.method"},
        "public": {"public", "branchy", "Thing.method"},
        "missing-docstring": {"_private", "branchy"},
        "complexity>3": {"branchy"},
    }
    for select, expected in cases.items():
        drains, problems = parse_custom_drains([{"name": "d", "prompt": "p", "select": select}])
        assert not problems
        off = {"summaries": {"enabled": False}, "simplify": {"enabled": False}}
        tasks = tasks_of(source, drains, findings=missing, drains=off)
        assert {t.qualname for t in tasks if t.drain == "d"} == expected, select
        assert all(t.tier == 1 for t in tasks if t.drain == "d")
    classes, _ = parse_custom_drains([{"name": "c", "prompt": "p", "scope": "class"}])
    tasks = tasks_of(source, classes)
    assert {t.qualname for t in tasks if t.drain == "c"} == {"Thing"}


def test_a_drain_after_another_waits_for_its_results_and_is_keyed_on_them() -> None:
    source = b"def f(a):\n    return a\n\n\ndef g():\n    pass\n"
    drains, _ = parse_custom_drains(
        [{"name": "mod", "prompt": "From the summaries.", "scope": "module", "after": "summaries"}]
    )
    answers: dict[str, str] = {}

    def tasks() -> list[Any]:
        return tasks_of(source, drains, lookup=answers.get)

    first = tasks()
    assert {t.drain for t in first} == {"summaries"}  # nothing to build on yet
    summaries = [t for t in first if t.drain == "summaries"]
    answers[summaries[0].key] = "F adds."
    assert {t.drain for t in tasks()} == {"summaries"}  # one result is still missing
    answers[summaries[1].key] = "G does nothing."
    (mod,) = [t for t in tasks() if t.drain == "mod"]
    assert mod.qualname == MODULE and mod.tier == 1
    request = mod.request()
    assert "- f: F adds." in request.prompt and "- g: G does nothing." in request.prompt
    assert request.instructions.endswith("From the summaries.")
    answers[summaries[1].key] = "G changed."
    (again,) = [t for t in tasks() if t.drain == "mod"]
    assert again.key != mod.key  # new results to build on: a new task


def test_the_prompt_is_part_of_the_content_address() -> None:
    source = b"def f():\n    pass\n"
    keys = []
    for prompt in ("One.", "Two."):
        drains, _ = parse_custom_drains([{"name": "d", "prompt": prompt}])
        (task,) = [t for t in tasks_of(source, drains, model="m") if t.drain == "d"]
        keys.append(task.key)
    assert keys[0] != keys[1]


# -- end to end --------------------------------------------------------------------------------

SOURCE = '''"""Shapes."""


def area(width, height):
    return width * height


def perimeter(width, height):
    return 2 * (width + height)


class Square:
    def __init__(self, side):
        self.side = side
'''

PYPROJECT = """
[[tool.drain-ls.drains.custom]]
name = "risk"
prompt = "RISK: name one risk of this function."
scope = "function"
select = "public"
max-tokens = 200
output = "diagnostic"
severity = "warning"

[[tool.drain-ls.drains.custom]]
name = "explain"
prompt = "EXPLAIN: explain this class to a newcomer."
scope = "class"
output = "hover"

[[tool.drain-ls.drains.custom]]
name = "module-doc"
prompt = "MODULEDOC: write the module docstring from the summaries."
scope = "module"
after = "summaries"
output = "report"

[[tool.drain-ls.drains.custom]]
name = "broken"
prompt = "x"
scope = "method"
"""


def _reply(body: dict[str, Any]) -> str:
    system = " ".join(block.get("text", "") for block in body.get("system", []))
    prompt = body["messages"][0]["content"]
    prompt = prompt if isinstance(prompt, str) else " ".join(b["text"] for b in prompt)
    name = prompt.split("`")[1] if "`" in prompt else "?"
    if "RISK:" in system:
        return f"risk-of-{name}: overflow is unchecked."
    if "EXPLAIN:" in system:
        return f"explain-{name}: a square with one side."
    if "MODULEDOC:" in system:
        built_on = prompt.count("summary-of-")
        return f"module-doc built on {built_on} summaries."
    return f"summary-of-{name}: it computes things. Watch the inputs."


async def test_custom_drains_end_to_end(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    home = tmp_path / "home"
    with FakeAnthropic(reply=_reply) as fake:
        client = await start_server(
            tmp_path,
            {
                "llm": {"enabled": True, "backend": "anthropic"},
                "idle": {"delayMs": 30},
                "diagnostics": {"debounceMs": 0},
                "privacy": {"requireConsent": False},
                "drains": {"docstrings": {"enabled": False}},
            },
            fake_api_env(fake.url, home),
        )
        try:
            uri = (tmp_path / "shapes.py").as_uri()
            client.text_document_did_open(
                types.DidOpenTextDocumentParams(
                    text_document=types.TextDocumentItem(
                        uri=uri, language_id="python", version=1, text=SOURCE
                    )
                )
            )

            # A bad drain is named with its field; the others run.
            await wait_until(
                lambda: any("drains.custom[3].scope" in m.message for m in client.messages)
            )

            # output = "diagnostic": a warning on each public function's name.
            def risks() -> list[types.Diagnostic]:
                return [d for d in client.diagnostics.get(uri, []) if d.code == "risk"]

            await wait_until(lambda: len(risks()) == 3, timeout=30)  # methods are functions
            by_name = {d.message.split(":")[1].strip(): d for d in risks()}
            assert set(by_name) == {"risk-of-area", "risk-of-perimeter", "risk-of-Square.__init__"}
            diagnostic = by_name["risk-of-area"]
            assert diagnostic.severity == types.DiagnosticSeverity.Warning
            assert diagnostic.range == range_of(SOURCE, "area", "utf-16")

            # output = "hover": a section in the class's hover.
            async def hover_text() -> str:
                hover = await client.text_document_hover_async(
                    types.HoverParams(
                        text_document=types.TextDocumentIdentifier(uri=uri),
                        position=range_of(SOURCE, "Square", "utf-16").start,
                    )
                )
                return hover.contents.value if hover is not None else ""  # type: ignore[union-attr]

            for _ in range(300):
                if "explain-Square" in await hover_text():
                    break
                await asyncio.sleep(0.05)
            assert "**explain** — explain-Square: a square with one side." in await hover_text()

            # after = "summaries", output = "report": one entry, built on every summary.
            async def entries() -> list[dict[str, Any]]:
                report = await client.workspace_execute_command_async(
                    types.ExecuteCommandParams(command="drain.report")
                )
                return list(report["entries"])

            for _ in range(300):
                if await entries():
                    break
                await asyncio.sleep(0.05)
            (entry,) = await entries()
            assert entry["drain"] == "module-doc" and entry["scope"] == "<module>"
            bodies = [json.loads(r["body"]) for r in fake.log if r["body"]]
            summaries = [b for b in bodies if "MODULEDOC" not in json.dumps(b["system"])]
            # area, perimeter, Square, Square.__init__: the request saw each summary.
            assert entry["text"] == "module-doc built on 4 summaries."
            module_request = next(b for b in bodies if "MODULEDOC" in json.dumps(b["system"]))
            sent = json.dumps(module_request["messages"])
            for name in ("area", "perimeter", "Square"):
                assert f"summary-of-{name}" in sent
            assert summaries  # the summaries came first

            # Tier 1 in the ledger for custom drains, tier 2 for the built-in ones.
            import sqlite3

            db = sqlite3.connect(home / "ledger.sqlite3")
            tiers = dict(db.execute("SELECT drain, MAX(tier) FROM runs GROUP BY drain"))
            assert tiers["risk"] == 1 and tiers["module-doc"] == 1 and tiers["summaries"] == 2
        finally:
            await client.shutdown_session()
