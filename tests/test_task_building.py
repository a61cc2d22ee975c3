"""Building a document's drain tasks a slice at a time (``task_steps``), and dropping the
build when a newer version arrives: a long module's tasks never hold up a keystroke."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types

from drain_ls.analysis.source import parse
from drain_ls.backends.offline import OfflineBackend
from drain_ls.budget import Limits, price_of
from drain_ls.config import DrainsSettings
from drain_ls.engine import task_building as drains_module
from drain_ls.engine.drains import Task, definitions
from drain_ls.engine.scheduler import Scheduler
from drain_ls.engine.task_building import STEP_DEFINITIONS, build_tasks, fit, task_steps
from drain_ls.ledger import Ledger
from tests.test_review_findings import in_process_server, until

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from gen_module import generate_module

MODEL = "claude-haiku-4-5"
ALL = DrainsSettings()


def module(lines: int) -> bytes:
    return generate_module(lines, seed=5).encode()


def findings_of(source: bytes) -> dict[int, str]:
    """Every definition counts as missing its docstring (a docstring task for each)."""
    return {
        node.child_by_field_name("name").start_byte: qualname  # type: ignore[union-attr]
        for node, qualname, _ in definitions(parse(source).root_node)
    }


def fields(task: Task) -> tuple[Any, ...]:
    return (task.drain, task.qualname, task.start, task.end, task.key, task.max_tokens)


def test_stepping_builds_the_same_tasks_and_yields_between_definitions() -> None:
    source = module(1500)
    root = parse(source).root_node
    options: dict[str, Any] = {"model": MODEL, "max_tokens_per_drain": 4000, "drains": ALL}
    steps = task_steps("file:///m.py", source, root, 3, findings_of(source), **options)
    yields = 0
    while True:
        try:
            next(steps)
        except StopIteration as done:
            stepped: list[Task] = done.value
            break
        yields += 1
    whole = build_tasks("file:///m.py", source, root, 3, findings_of(source), **options)
    assert [fields(t) for t in stepped] == [fields(t) for t in whole]
    assert len(stepped) > 100
    assert yields >= len(definitions(root)) // STEP_DEFINITIONS


@pytest.mark.parametrize("redact", [True, False])
def test_remembered_fits_match_fit_for_every_cap(redact: bool) -> None:
    """``max_tokens`` comes from a memo from the second build on: it must be what ``fit``
    gives for that task and cap, whichever cap was asked first."""
    source = module(400) + b'\n\ndef leaky():\n    key = "sk-ant-api03-' + b"x" * 60 + b'"\n'
    root = parse(source).root_node
    for cap in (4000, 700, 4000, 520, 700):
        built = build_tasks(
            "file:///m.py", source, root, 1, findings_of(source),
            model=MODEL, max_tokens_per_drain=cap, drains=ALL, redact_secrets=redact,
        )  # fmt: skip
        drains_module._FIT.clear()
        fresh = build_tasks(
            "file:///m.py", source, root, 1, findings_of(source),
            model=MODEL, max_tokens_per_drain=cap, drains=ALL, redact_secrets=redact,
        )  # fmt: skip
        assert [fields(t) for t in built] == [fields(t) for t in fresh], cap
        for task in fresh[:50]:
            probe = Task(
                **{
                    **_init_fields(task),
                    "max_tokens": drains_module.answer_tokens(task.drain, MODEL),
                }
            )
            assert fit(probe, cap) and probe.max_tokens == task.max_tokens


def _init_fields(task: Task) -> dict[str, Any]:
    names = ("drain", "uri", "qualname", "start", "end", "scope_text", "context", "model",
             "max_tokens", "public", "version", "style", "redact_secrets")  # fmt: skip
    return {name: getattr(task, name) for name in names}


async def test_a_keystroke_during_the_build_drops_it(tmp_path: Path, monkeypatch: Any) -> None:
    """The tasks of a version the user has already changed are never submitted, and the
    build yields to the event loop while it runs (a hover is answered in between)."""
    import drain_ls.lsp.loop as loop_module

    monkeypatch.setattr(loop_module, "BUILD_SLICE", 0.0)  # one step per slice
    root = tmp_path / "ws"
    root.mkdir()
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    server = in_process_server(root, ledger, {})
    server.pull_diagnostics = True  # no client to publish to
    scheduler = Scheduler(
        OfflineBackend(), None, Limits(), price_of("offline"), lambda result: None
    )
    submitted: list[tuple[str, set[int | None]]] = []
    real_submit = scheduler.submit

    def submit(uri: str, tasks: list[Task]) -> None:
        submitted.append((uri, {t.version for t in tasks}))
        real_submit(uri, tasks)

    scheduler.submit = submit  # type: ignore[method-assign]
    server.engine.scheduler = scheduler
    uri = (root / "m.py").as_uri()
    text = module(3000).decode()
    server.open_document(uri, text, 1, "python")
    assert server._building.get(uri) is not None, "the build did not start"
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not submitted, "the whole build ran in one step"
    # Meanwhile a request is answered: the loop is free between slices.
    assert server.flush(uri) is not None
    row = text.split("\n").index(next(line for line in text.split("\n") if line.startswith("def ")))
    server.change_document(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangePartial(
                    range=types.Range(
                        start=types.Position(line=row, character=0),
                        end=types.Position(line=row, character=0),
                    ),
                    text="# a comment\n",
                )
            ],
        )
    )
    server.flush(uri)  # analysed now: version 2's build starts, version 1's was dropped
    await until(lambda: not server._building)
    assert submitted, "version 2's tasks were never submitted"
    assert all(versions == {2} for _, versions in submitted), submitted
    assert {t.version for t in scheduler.queue.values()} == {2}
    server.close_document(uri)
    ledger.close()


async def test_a_long_document_is_cut_into_chunks_in_slices_after_it_opens(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """The cut runs at once after the first analysis, a step per turn of the event loop
    (the first keystroke did it in one step); an edit during it wins."""
    import drain_ls.lsp.loop as loop_module

    monkeypatch.setattr(loop_module, "BUILD_SLICE", 0.0)
    root = tmp_path / "ws"
    root.mkdir()
    server = in_process_server(root, Ledger(tmp_path / "ledger.sqlite3"), {})
    server.pull_diagnostics = True
    uri = (root / "m.py").as_uri()
    server.open_document(uri, module(3000).decode(), 1, "python")
    doc = server.documents[uri]
    assert uri in server._cutting and doc.tree.unsettled
    await asyncio.sleep(0)
    assert doc.tree.unsettled, "the whole cut ran in one step"
    await until(lambda: uri not in server._cutting)
    assert not doc.tree.unsettled and len(doc.tree.trees) > 10
    # Opened again, and edited while the cut runs: the edit's forest stands, and is sound.
    server.open_document(uri, module(3000).decode(), 1, "python")
    doc = server.documents[uri]
    await asyncio.sleep(0)
    server.change_document(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                types.TextDocumentContentChangeWholeDocument(text=module(2900).decode())
            ],
        )
    )
    await until(lambda: uri not in server._cutting)
    fresh = parse(doc.source).root_node
    assert [(c.type, c.start_byte) for c in doc.tree.root_node.children] == [
        (c.type, c.start_byte) for c in fresh.children
    ]
