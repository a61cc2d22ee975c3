"""The unused-import check's fast paths against its general path, on random modules full of
imports: the same bindings, unused names, witnesses, findings and fixes.

The fast paths: module-level import statements read from the module's children (the general
path searches for every ``import`` keyword); each binding's parent carried from there
(``ImportBinding.container``; the general path asks the tree); the names of a large module
counted instead of located (``_PER_WORD_BUDGET``; the general path locates every
occurrence); a module-level statement alone on its lines deleted without a line index.
"""

from __future__ import annotations

import dataclasses
import random
import re
from unittest.mock import patch

import pytest

from drain_ls.analysis import forest, imports
from drain_ls.analysis.forest import Forest
from drain_ls.analysis.imports import (
    ImportBinding,
    import_bindings_by_name,
    remove_imports_fix,
    unused_bindings_of,
    unused_import_findings,
)
from drain_ls.analysis.model import Finding
from drain_ls.analysis.source import Syntax, parse

NAMES = ["a", "b", "os", "sys", "m1", "m2", "x_y", "é", "T"]
MODULES = ["m", "pkg.sub", "os", ".", ".rel", "..up"]


def _name(rng: random.Random) -> str:
    """A name of the few that come back often, or one seldom seen again."""
    return rng.choice(NAMES) if rng.random() < 0.7 else f"n{rng.randint(0, 999)}"


def _import(rng: random.Random) -> str:
    n, m, k = _name(rng), _name(rng), _name(rng)
    module = rng.choice(MODULES)
    plain_module = rng.choice([mod for mod in MODULES if not mod.startswith(".")])
    return rng.choice(
        [
            f"import {n}",
            f"import {n}.{m}",
            f"import {n}.{m}.{k}",
            f"import {n} as {m}",
            f"import {n} as {n}",
            f"import {n}, {m}",
            f"import {plain_module}",
            f"from {module} import {n}",
            f"from {module} import {n} as {m}",
            f"from {module} import {n} as {n}",
            f"from {module} import {n}, {m}",
            f"from {module} import ({n}, {m})",
            f"from {module} import (\n    {n},  # {m}\n    {m},\n)",
            f"from {module} import (\n    {n},\n    {m},\n    {k}\n)",
            f"from {module} import *",
            "from __future__ import annotations",
            f"import {n} \\\n    , {m}",
        ]
    )


def _statement(rng: random.Random, depth: int = 0) -> str:
    n, m = _name(rng), _name(rng)
    choices = [
        _import(rng),
        _import(rng),
        _import(rng),
        f"{n}.f()",
        f"{n}(1)",
        f"print({n})",
        f"def {n}(): pass",
        f"class {n}(object): pass",
        f"async def \\\n        {n}(): pass",
        f"{n} = 1",
        f"del {n}",
        f"x.{n}",
        f"# {n} in a comment",
        f'"{n} in a string"',
        f"{n} += 1",
        f"for {n} in []: pass",
        f"x: '{n}.T' = 1",
        f"x = 1; {_import(rng)}",
        f"{_import(rng)}; y = 2",
        f"if x: {_import(rng)}",
        f"__all__ = ['{n}', '{m}']",
        f"__all__ += ['{n}']",
        f"[{n} for {n} in {m}]",
        f"f = lambda {n}: {n}",
        f"with y as {n}: pass",
        f"try:\n    {_import(rng)}\nexcept ImportError:\n    {n} = None",
        f"if {n}:\n    {_import(rng)}",
    ]
    if depth < 2:
        body = "\n".join(_statement(rng, depth + 1) for _ in range(rng.randint(1, 4)))
        indented = "\n".join("    " + line for line in body.splitlines())
        choices += [
            f"def f{rng.randint(0, 9)}({m}):\n{indented}",
            f"class C{rng.randint(0, 9)}:\n{indented}",
            f"def g():\n    global {n}\n{indented}",
        ]
    return rng.choice(choices)


def random_module(seed: int) -> bytes:
    rng = random.Random(seed)
    statements = [_import(rng) for _ in range(rng.randint(0, 12))]
    statements += [_statement(rng) for _ in range(rng.randint(5, 40))]
    text = "\n".join(statements) + rng.choice(["\n", "", "\n\n"])
    if rng.random() < 0.15:
        text = text.replace("\n", "\r\n")
    return text.encode()


SEEDS = range(400)


def _starts(unused: dict[str, list[ImportBinding]]) -> dict[str, list[int]]:
    return {name: [b.node.start_byte for b in bindings] for name, bindings in unused.items()}


def _without_containers(
    by_name: dict[str, list[ImportBinding]],
) -> dict[str, list[ImportBinding]]:
    return {
        name: [dataclasses.replace(b, container=None) for b in bindings]
        for name, bindings in by_name.items()
    }


def _analyse(
    tree: Syntax, source: bytes, by_name: dict[str, list[ImportBinding]], budget: int
) -> tuple[dict[str, list[int]], dict[str, list[int]], dict[str, list[list[int]]], list[Finding]]:
    root = tree.root_node
    with patch.object(imports, "_PER_WORD_BUDGET", budget):
        unused = unused_bindings_of(root, source, by_name)
        witnesses: dict[str, list[list[int]]] = {}
        seen = unused_bindings_of(root, source, by_name, witnesses=witnesses)
    findings = unused_import_findings([b for bs in unused.values() for b in bs], source, "m.py")
    return _starts(unused), _starts(seen), witnesses, findings


@pytest.mark.parametrize("seed", SEEDS)
def test_fast_paths_agree_with_the_general_path(seed: int) -> None:
    source = random_module(seed)
    tree = parse(source)
    root = tree.root_node
    by_name = import_bindings_by_name(root, source)

    # Module-level statements read from the module's children: the keyword search's.
    found = imports._import_statements(root, source)
    searched = imports._keyword_statements(root, source, 0)
    assert [s.id for s, _ in found] == [s.id for s in searched]
    for statement, container in found:
        parent = statement.parent
        assert container is None or (parent is not None and container.id == parent.id)

    # Counted (budget 0) or located (no budget); with each binding's parent or without.
    general = _analyse(tree, source, _without_containers(by_name), 1 << 62)
    assert _analyse(tree, source, by_name, 0) == general
    assert _analyse(tree, source, by_name, 1 << 62) == general
    assert _analyse(tree, source, _without_containers(by_name), 0) == general


@pytest.mark.parametrize("seed", SEEDS)
def test_deferring_the_loads_changes_no_answer(seed: int) -> None:
    """Occurrences that can only be loads (after or before a dot, or called, but for the name
    of a ``def`` or a ``class``) are resolved last, and only until every import is proven
    used; the incremental checker, which wants every witness, resolves them all in order:
    both must find the same unused imports."""
    source = random_module(seed)
    root = parse(source).root_node
    by_name = import_bindings_by_name(root, source)
    deferred = unused_bindings_of(root, source, by_name)
    in_order = unused_bindings_of(root, source, by_name, witnesses={})
    # (in the order their scopes were first met, which the deferring changes)
    assert {name: sorted(starts) for name, starts in _starts(deferred).items()} == {
        name: sorted(starts) for name, starts in _starts(in_order).items()
    }, source.decode()


@pytest.mark.parametrize("seed", SEEDS[:100])
def test_whole_line_deletions_are_delete_statement_s(seed: int) -> None:
    source = random_module(seed).replace(b"\r", b"")
    root = parse(source).root_node
    for statement, container in imports._import_statements(root, source):
        bindings = imports.import_bindings(statement, container)
        if bindings:
            assert remove_imports_fix(bindings, source, plain=True) == remove_imports_fix(
                bindings, source
            )


@pytest.mark.parametrize("seed", SEEDS[:100])
def test_a_chunked_document_carries_each_statement_s_chunk(seed: int) -> None:
    source = random_module(seed)
    with patch.object(forest, "CHUNK_LINES", 3):
        chunked = Forest(source)
        chunked.settle()
    root = chunked.root_node
    whole = parse(source).root_node
    assert [s.start_byte for s, _ in imports._import_statements(root, source)] == [
        s.start_byte for s, _ in imports._import_statements(whole, source)
    ]
    by_name = import_bindings_by_name(root, source)
    general = _analyse(chunked, source, _without_containers(by_name), 1 << 62)
    assert _analyse(chunked, source, by_name, 0) == general
    assert _analyse(chunked, source, by_name, 1 << 62) == general


def test_the_random_modules_reach_every_path() -> None:
    """The modules above are mostly valid Python with unused imports, some of each kind."""
    clean = flagged = counted_once = 0
    for seed in SEEDS:
        source = random_module(seed)
        root = parse(source).root_node
        clean += not root.has_error
        unused = unused_bindings_of(root, source, import_bindings_by_name(root, source))
        flagged += any(unused.values())
        words = re.findall(rb"[A-Za-z0-9_\x80-\xff]+", source)
        counted_once += any(words.count(name.encode()) == 1 for name in unused)
    assert clean > len(SEEDS) // 2
    assert flagged > len(SEEDS) // 2
    assert counted_once > len(SEEDS) // 4


def test_the_fix_title_names_one_import_and_not_a_statements_many() -> None:
    """ruff's ``fix_title`` for F401 (crates/ruff_linter/src/rules/pyflakes/rules/
    unused_import.rs): "Remove unused import: `os.path`" when one import of the statement
    goes, "Remove unused import" when several do. A list of the names in each finding's fix
    made a statement of 20,000 names cost 4 GB of JSON and 20 s."""
    from drain_ls.analysis.checker import check_source

    source = b"from os import path, sep\nimport json, re\nprint(sep)\n"
    titles = {
        f.data.get("name"): f.fix.message
        for f in check_source(source, "m.py")
        if f.code == "F401" and f.fix is not None
    }
    assert titles == {
        "path": "Remove unused import: `os.path`",
        "json": "Remove unused import",
        "re": "Remove unused import",
    }
    wide = ("from os import " + ", ".join(f"n{i}" for i in range(2000)) + "\n").encode()
    fixes = [f.fix for f in check_source(wide, "m.py") if f.code == "F401"]
    assert len(fixes) == 2000
    assert all(f is not None and len(f.message) < 100 for f in fixes)
