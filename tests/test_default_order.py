"""A parameter without a default after one with a default (``def f(a=1, b):``): tree-sitter
accepts it, CPython and ruff reject it. Found by a differential fuzz against CPython's parser.
The C search (``drain_ls._native.default_order``) and the Python one (every ``def`` asked of
the tree) must give the same errors; the running CPython judges each generated header."""

from __future__ import annotations

import random
import warnings

import pytest

from drain_ls.analysis import default_order
from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.source import parse

# (source, the text of the offending parameter, or None)
CASES = [
    ("def f(a=1, b): pass\n", "b"),
    ("def f(a=1, b, c): pass\n", "b"),
    ("def f(a=1, /, b): pass\n", "b"),
    ("def f(a: int = 1, b: str): pass\n", "b: str"),
    ("async def f(a=(1,\n2), b): pass\n", "b"),
    ('class C:\n    def m(self, a="x,y", b=[1, 2], c): pass\n', "c"),
    ("def f[T: (int, str)](a: T = 1, b: T): pass\n", "b: T"),
    ("def f(a=x == y, b): pass\n", "b"),
    ("def f(a=lambda x, y: 0, b=1, c): pass\n", "c"),
    ("def f(a=1,  # c, d\n      b): pass\n", "b"),
    ("\fdef f(a=1, b): pass\n", "b"),  # (tree-sitter's module starts after the form feed)
    ("def f(a, b=1, c=2): pass\n", None),
    ("def f(a=1, *, b): pass\n", None),
    ("def f(a=1, *args: int, b): pass\n", None),
    ("def f(a=1, **k): pass\n", None),
    ("def f(a=1, b=2, /, c=3): pass\n", None),
    ("def f(a: 'x=1', b): pass\n", None),
    ('x = """\ndef f(a=1, b): pass\n"""\n', None),
    ("# def f(a=1, b): pass\n", None),
]


def _errors(source: bytes, native: bool) -> list[tuple[int, int, str]]:
    tree = parse(source)
    assert not tree.root_node.has_error
    saved = default_order._native
    if not native:
        default_order._native = None
    try:
        root = tree.root_node  # (legacy_errors starts at the root, after a form feed)
        return list(default_order.default_order_errors(root, source, root.start_byte, len(source)))
    finally:
        default_order._native = saved


def _cpython_error(source: str) -> str | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<case>", "exec", flags=0x400, dont_inherit=True)
    except SyntaxError as exc:
        return exc.msg
    return None


# The running CPython's words for this error (3.11: "non-default argument follows default
# argument"; 3.12 on: "parameter without a default follows parameter with a default").
_WORDS = ("follows default argument", "follows parameter with a default")


@pytest.mark.parametrize(("source", "offender"), CASES, ids=[c[0][:40] for c in CASES])
def test_cases(source: str, offender: str | None) -> None:
    data = source.encode()
    for native in (True, False) if default_order._native else (False,):
        found = _errors(data, native)
        assert [data[start:end].decode() for start, end, _ in found] == (
            [offender] if offender else []
        ), native
    assert (_cpython_error(source) is not None) == (offender is not None)


def test_it_is_an_e999_whatever_the_selection() -> None:
    source = b'"""Module."""\nimport os\n\n\ndef f(a=1, b):\n    """F."""\n'
    found = check_source(source, "/m.py", CheckSettings(select=frozenset({"F401"})))
    assert [(f.code, f.message) for f in found] == [
        ("E999", "SyntaxError: parameter without a default follows parameter with a default")
    ]
    assert found[0].start == source.index(b"b)")


PARAMETERS = [
    "a",
    "b: int",
    "c=1",
    "d: int = 2",
    "*",
    "*args",
    "**kw",
    "/",
    "e='x,y'",
    "f=(1,\n 2)",
    "g=[a, b]",
    "h=lambda: 0",
    "i=lambda x, y=1: x",
    "j: 'T' = None",
    "k=x == y",
    "l: dict[str, int] = {}",
    "m=f'{a},{b}'",
    "# c\n n",
    "o=1  # c,\n",
]


def test_generated_headers_agree_with_cpython_in_c_and_in_python() -> None:
    rng = random.Random(11)
    checked = flagged = 0
    for _ in range(3000):
        parameters = ", ".join(rng.choice(PARAMETERS) for _ in range(rng.randint(0, 5)))
        head = rng.choice(["def f", "async def g", "def t[T]"])
        source = f"{head}({parameters}):\n    pass\n"
        data = source.encode()
        if parse(data).root_node.has_error:
            continue
        checked += 1
        found = _errors(data, native=False)
        if default_order._native is not None:
            assert _errors(data, native=True) == found, source
        error = _cpython_error(source)
        if found:
            flagged += 1
            assert error is not None, source  # never an error on valid code
        else:  # and none missed (CPython reports another error first at times)
            assert error is None or not error.endswith(_WORDS), source
    assert checked > 1000 and flagged > 100
