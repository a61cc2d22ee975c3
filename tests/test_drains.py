"""Drain tasks, prompts and answer validation, as units."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta

import pytest

from drain_ls.analysis.source import parse
from drain_ls.backends.base import DrainRequest, Progress, RateLimits
from drain_ls.backends.offline import OfflineBackend
from drain_ls.config import DrainsSettings
from drain_ls.engine.drains import outline, validate
from drain_ls.engine.task_building import build_tasks
from tests.settings_support import drains_of

SOURCE = (
    b'''"""M."""
import os
from typing import Any


def public(a, b=1):
    return a


def _private():
    pass


class Thing:
    def method(self, x):
        """Doc."""
        return os.sep


def tangled(x):
'''
    + b"".join(b"    if x == %d:\n        return %d\n" % (i, i) for i in range(12))
    + b"    return None\n"
)


def test_outline_has_imports_and_signatures_only() -> None:
    tree = parse(SOURCE)
    text = outline(SOURCE, tree.root_node)
    assert text.splitlines() == [
        "import os",
        "from typing import Any",
        "def public(a, b=1):",
        "def _private():",
        "class Thing:",
        "def tangled(x):",
    ]


def test_tasks_per_drain_and_content_addresses() -> None:
    tree = parse(SOURCE)
    d103 = {SOURCE.index(b"public"): "public"}
    tasks = build_tasks(
        "file:///m.py",
        SOURCE,
        tree.root_node,
        1,
        d103,
        model="claude-haiku-4-5",
        max_tokens_per_drain=5000,
        drains=DrainsSettings(),
    )
    kinds = sorted((t.drain, t.qualname) for t in tasks)
    assert kinds == [
        ("docstrings", "public"),
        ("simplify", "tangled"),
        ("summaries", "Thing"),
        ("summaries", "Thing.method"),
        ("summaries", "public"),
        ("summaries", "tangled"),
    ]
    # Editing one function changes its key only.
    edited = SOURCE.replace(b"return a\n", b"return a + 1\n")
    again = build_tasks(
        "file:///m.py",
        edited,
        parse(edited).root_node,
        2,
        {edited.index(b"public"): "public"},
        model="claude-haiku-4-5",
        max_tokens_per_drain=5000,
        drains=DrainsSettings(),
    )
    before = {(t.drain, t.qualname): t.key for t in tasks}
    after = {(t.drain, t.qualname): t.key for t in again}
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {("docstrings", "public"), ("summaries", "public")}


def test_disabled_drains_and_too_large_scopes_make_no_task() -> None:
    tree = parse(SOURCE)
    none = build_tasks(
        "file:///m.py",
        SOURCE,
        tree.root_node,
        1,
        {},
        model="claude-haiku-4-5",
        max_tokens_per_drain=5000,
        drains=drains_of({"summaries": {"enabled": False}, "simplify": {"enabled": False}}),
    )
    assert none == []
    tiny = build_tasks(
        "file:///m.py",
        SOURCE,
        tree.root_node,
        1,
        {},
        model="claude-haiku-4-5",
        max_tokens_per_drain=300,
        drains=DrainsSettings(),
    )
    assert tiny == []


@pytest.mark.parametrize(
    ("answer", "valid"),
    [
        ('"""Add two numbers."""', True),
        ('```python\n"""Add."""\n```', True),
        ('"""Add."""\nx = 1', False),
        ("def f(): pass", False),
        ("b'''bytes'''", False),
        ('"""Unterminated', False),
        ("", False),
    ],
)
def test_docstring_answers_are_validated(answer: str, valid: bool) -> None:
    result = validate("docstrings", answer)
    assert (result is not None) == valid
    if result is not None:
        assert isinstance(ast.literal_eval(result), str)


async def test_offline_simplify_is_concrete() -> None:
    tree = parse(SOURCE)
    [task] = [
        t
        for t in build_tasks(
            "file:///m.py",
            SOURCE,
            tree.root_node,
            1,
            {},
            model="offline",
            max_tokens_per_drain=5000,
            drains=DrainsSettings(),
        )
        if t.drain == "simplify"
    ]
    response = await OfflineBackend().complete(task.request(), Progress())
    assert response.text.startswith("`tangled` has cyclomatic complexity 13:")
    assert "12 if/elif branches" in response.text


def test_rate_limit_reset_headers() -> None:
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat().replace("+00:00", "Z")
    later = (datetime.now(UTC) + timedelta(seconds=90)).isoformat()
    limits = RateLimits({"tokens-reset": later, "requests-reset": soon, "tokens-limit": "10"})
    wait = limits.seconds_to_reset()
    assert wait is not None and 25 < wait <= 30
    assert RateLimits().seconds_to_reset() is None


def test_request_carries_scope_context_and_style() -> None:
    tree = parse(SOURCE)
    [task] = [
        t
        for t in build_tasks(
            "file:///m.py",
            SOURCE,
            tree.root_node,
            1,
            {SOURCE.index(b"public"): "public"},
            model="m",
            max_tokens_per_drain=5000,
            drains=DrainsSettings(),
            style="numpy",
        )
        if t.drain == "docstrings"
    ]
    request = task.request()
    assert isinstance(request, DrainRequest)
    assert "numpy style" in request.instructions
    assert request.prompt.endswith("def public(a, b=1):\n    return a")
    assert request.context.startswith("import os")
    assert task.input_estimate() >= len(
        (request.instructions + request.context + request.prompt).encode()
    )


def test_qualname_of_a_definition_is_the_one_definitions_gives_it() -> None:
    """The hover names a definition from its ancestors (``qualname_of``) instead of listing
    every definition of the file: the same name for each one ``definitions`` lists (methods
    of nested and decorated classes too), None for every other one (in a function body, an
    ``if``, a ``try``)."""
    import sysconfig
    from pathlib import Path

    from drain_ls.engine.drains import definitions, qualname_of

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = [
        (stdlib / name).read_bytes()
        for name in ("typing.py", "dataclasses.py", "argparse.py", "unittest/mock.py")
    ]
    sources.append(
        b"@deco\nclass A:\n    class B:\n        @property\n        def c(self): pass\n"
        b"    if X:\n        def hidden(self): pass\n\ndef f():\n    def inner(): pass\n"
        b"try:\n    def g(): pass\nexcept E:\n    pass\n"
    )
    for source in sources:
        root = parse(source).root_node
        listed = {node.id: qualname for node, qualname, _ in definitions(root)}
        stack, seen = [root], 0
        while stack:
            node = stack.pop()
            stack.extend(node.named_children)
            if node.type in ("function_definition", "class_definition"):
                seen += 1
                assert qualname_of(node) == listed.get(node.id)
        assert seen > len(listed) > 0  # both kinds were met
