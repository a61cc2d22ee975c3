"""What ``del``, ``with ... as`` and an annotation may name
(``drain_ls.analysis.store_targets``), which tree-sitter-python does not check: ``del 1``,
``del f()``, ``with a as 1:``, ``x, y: int`` are ``E999`` in
CPython's words, at what CPython and ruff point at; generated targets are judged by the
running CPython, message and position alike."""

from __future__ import annotations

import random
import warnings

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.legacy import legacy_errors
from drain_ls.analysis.source import parse

# (source, the text CPython points at, its message), or None when valid.
CASES: list[tuple[str, str | None, str]] = [
    ("del 1\n", "1", "cannot delete literal"),
    ("del f()\n", "f()", "cannot delete function call"),
    ("del (a, 1)\n", "1", "cannot delete literal"),
    ("del [a, (b, f())]\n", "f()", "cannot delete function call"),
    ("del a, *b\n", "*b", "cannot delete starred"),
    ("del a + b\n", "a + b", "cannot delete expression"),
    ("del not a\n", "not a", "cannot delete expression"),
    ("del a < b\n", "a < b", "cannot delete comparison"),
    ("del None\n", "None", "cannot delete None"),
    ("del ...\n", "...", "cannot delete ellipsis"),
    ("del (yield)\n", "yield", "cannot delete yield expression"),
    ("del f'x'\n", "f'x'", "cannot delete f-string expression"),
    ("del 'a' f'x'\n", "'a' f'x'", "cannot delete f-string expression"),
    ("del {}\n", "{}", "cannot delete dict literal"),
    ("del (x for x in y)\n", "(x for x in y)", "cannot delete generator expression"),
    ("def f():\n    del x.y, g()\n", "g()", "cannot delete function call"),
    # (after a colon or a semicolon: the token scan finds every ``del``)
    ("if x: del a, 1\n", "1", "cannot delete literal"),
    ("x = 1; del f()\n", "f()", "cannot delete function call"),
    ("with a as 1: pass\n", "1", "cannot assign to literal"),
    ("with a as f(): pass\n", "f()", "cannot assign to function call"),
    ("with a as (b, c + d): pass\n", "c + d", "cannot assign to expression"),
    ("with a as b, c as None: pass\n", "None", "cannot assign to None"),
    ("with (a as b, c as [d, f()]): pass\n", "f()", "cannot assign to function call"),
    ("with (a as 'x'): pass\n", "'x'", "cannot assign to literal"),
    ("async def g():\n    async with a as -b: pass\n", "-b", "cannot assign to expression"),
    # An annotation of more than one target.
    ("x, y: int = 1\n", "x, y", "only single target (not tuple) can be annotated"),
    ("(x,): int\n", "(x,)", "only single target (not tuple) can be annotated"),
    ("[x]: int\n", "[x]", "only single target (not list) can be annotated"),
    ("if x: a, b: int\n", "a, b", "only single target (not tuple) can be annotated"),
    ("class C:\n    x, *y: int\n", "x, *y", "only single target (not tuple) can be annotated"),
    ("a = 1; [b, c]: int\n", "[b, c]", "only single target (not list) can be annotated"),
    ("*a: int\n", ":", "invalid syntax"),
    # Valid.
    ("(x): int\nx.y: int = 1\nx[0]: int\nfor a, b in c: pass\n", None, ""),
    # (tree-sitter reads ``a,`` and the next line as one annotated tuple: found by the edit
    # fuzz, a false E999)
    ("a,\n(x): int\nif x:\n    a,\n    (y): int = 1\n", None, ""),
    ("match x, y:\n    case _: pass\nd = {a: b, c: d}\nf = lambda a, b: 0\n", None, ""),
    ("del a, b.c, d[0], (e), [f, (g, h)], ()\n", None, ""),
    ("del match, type, print, x[1:2], f(x).y\n", None, ""),
    ("with a as b, c as (d, *e), f as g.h, i as j[0]: pass\n", None, ""),
    ("with (a as b, c as d): pass\nwith (a, b) as c: pass\n", None, ""),
    ("x = 'del 1'  # del f()\n", None, ""),
]


def _errors(source: str) -> list[tuple[int, int, str]]:
    data = source.encode()
    tree = parse(data)
    assert not tree.root_node.has_error, "tree-sitter sees this one"
    return legacy_errors(tree.root_node, data)


def _cpython(source: str) -> SyntaxError | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<case>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return exc
    return None


@pytest.mark.parametrize(("source", "text", "message"), CASES, ids=[c[0][:40] for c in CASES])
def test_cases(source: str, text: str | None, message: str) -> None:
    found = _errors(source)
    data = source.encode()
    assert [(data[s:e].decode(), m) for s, e, m in found] == ([(text, message)] if text else [])
    error = _cpython(source)
    assert (error is None) == (text is None)
    if error is not None:
        assert error.msg == message


def test_it_is_an_e999_whatever_the_selection() -> None:
    source = b'"""Module."""\nimport os\ndel os, 1\n'
    found = check_source(source, "/m.py", CheckSettings(select=frozenset({"F401"})))
    assert [(f.code, f.message, f.start) for f in found] == [
        ("E999", "SyntaxError: cannot delete literal", source.index(b"1\n"))
    ]


TARGETS = [
    "a",
    "b.c",
    "d[0]",
    "1",
    "'s'",
    "f'{x}'",
    "None",
    "True",
    "...",
    "f()",
    "a + b",
    "-a",
    "not a",
    "a < b",
    "a if b else c",
    "lambda: 0",
    "(yield)",
    "{}",
    "{1}",
    "[x for x in y]",
    "(x for x in y)",
    "(a := 1)",
    "*a",
]


def _target(rng: random.Random, depth: int = 0) -> str:
    if depth < 2 and rng.random() < 0.3:
        items = ", ".join(_target(rng, depth + 1) for _ in range(rng.randint(0, 3)))
        return rng.choice(["({})", "[{}]", "({},)"]).format(items)
    return rng.choice(TARGETS)


def test_generated_targets_agree_with_cpython() -> None:
    rng = random.Random(7)
    checked = flagged = 0
    for _ in range(3000):
        target = ", ".join(_target(rng) for _ in range(rng.randint(1, 3)))
        shape = rng.random()
        if shape < 0.2:
            source = f"{target}: int\n"
        elif shape < 0.6:
            source = f"del {target}\n"
        else:
            source = (
                f"with a as ({target}): pass\n" if "," in target else f"with a as {target}: pass\n"
            )
        data = source.encode()
        if parse(data).root_node.has_error:
            continue
        checked += 1
        found = legacy_errors(parse(data).root_node, data)
        error = _cpython(source)
        if error is None:
            assert found == [], source
            continue
        if not error.msg.startswith(("cannot delete", "cannot assign to", "only single")):
            continue  # (``with a as *b``, ``(*a)``: errors of starred items, not these)
        if source.startswith("with a as a if"):
            # tree-sitter binds ``as`` to the conditional's first operand: ``invalid syntax`` at
            # the ``as`` (``legacy._as_expression``), an error too, in other words.
            assert found[0][2] == "invalid syntax"
            continue
        assert found, (source, error.msg)
        start, _, message = found[0]
        assert message == error.msg, source
        assert start == error.offset - 1, source  # (one line, ASCII: offsets are columns)
        flagged += 1
    assert checked > 2000 and flagged > 1000
