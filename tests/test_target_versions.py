"""``target-version`` and the syntax newer than it (``drain_ls.analysis.versions``).

Construct by construct: valid code of the newest target gets no error; at the target just
below the construct's version it gets ruff's error; the running interpreter's ``compile()``
agrees with the verdict at its own version; ruff 0.17.6 reports the same errors, at the same
places, in the same words, at every target.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drain_ls.analysis.grammar_gaps import normalize_lone_cr, tree_errors
from drain_ls.analysis.source import parse
from drain_ls.analysis.versions import (
    DEFAULT_TARGET,
    PythonVersion,
    parse_target_version,
    target_from_requires_python,
    version_errors,
)
from tests.syntax_corpus import VALID

RUNNING = PythonVersion(min(sys.version_info[1], 14)) if sys.version_info[0] == 3 else None

# Only for ruff: more shapes of each version-gated construct.
EXTRA: dict[str, str] = {
    "fs_mix": "f\"{x!r}\" f'{y[\"a\"]}' f\"{z:{w}.{p}}\" f'''{x[\"a\"]}'''\n",
    "fs_spec_backslash": "f\"{x:\\n}\" f\"{'a' 'b'}\" f\"{1:{'x'}}\"\n",
    "fs_comments": "f'''{\n  a  # c1\n  + b  # c2\n}'''\n",
    "fs_nested": 'f"{f\'{x}\'}" f"{f"{x}"}" rf"{x}\\d" Rf"{x[\'a\']}"\n',
    "fs_continuation": 'x = f"{a}\\\n{b}"\nprint(f"{\'\\\\n\'.join(x)}")\n',
    "match_subjects": (
        "match a, b:\n    case _:\n        pass\nmatch (a, b):\n    case _:\n        pass\n"
        "match [a]:\n    case _:\n        pass\nmatch -a:\n    case _:\n        pass\n"
        "match *a, b:\n    case _:\n        pass\nmatch not a:\n    case _:\n        pass\n"
    ),
    "decorators_dotted": "@a.b\n@a.b(c)\n@a.b(c)(d)\n@a[0]\n@a().b\n@(a)\n@(a.b)\ndef f(): pass\n",
    "decorators_kinds": (
        "@a.b[c].d\n@a if b else c\n@lambda f: f\n@[a][0]\n@{a}\n@a + b\n@-a\n@not a\n"
        "@a < b\n@a and b\n@1\n@1.5\n@1j\n@'s'\n@b's'\n@f's'\n@...\n@None\n@True\n"
        "@[x for x in y]\n@(x for x in y)\n@{x: y for x in z}\ndef f(): pass\n"
    ),
    "with_shapes": (
        "with (a as b, c as d):\n    pass\nwith (a, b) as c:\n    pass\n"
        "with (a as b), c:\n    pass\nwith a as (b, c):\n    pass\n"
        "async def f():\n    async with (a as b, c as d):\n        pass\n"
    ),
    "star_tuples": (
        "def f():\n    return *a, b\n    yield *a, b\n    return (*a, b)\n"
        "    x = yield *a, b\n    yield a, *b\n"
    ),
    "for_unpack": "for x in *a, b:\n    pass\nfor x in (*a, b):\n    pass\n",
    "star_index_shapes": (
        "a[*b]\na[*b, c]\na[b, *c]\na[(*b,)]\nx: A[*B]\n"
        "def f(x: A[*B]) -> A[*C]: pass\nclass C(G[*Ts]): pass\ntype T[*Ts] = int\n"
    ),
    "async_comprehensions": (
        "async def f():\n    [[x async for x in y] for z in w]\n    {x async for x in y}\n"
        "    [x for x in [y async for y in z]]\n    [(x async for x in y) for z in w]\n"
        "    [{k: v async for k, v in y} for z in w]\n"
        "    [[y async for y in x] async for x in w]\n"
    ),
    "except_shapes": (
        "try:\n    pass\nexcept A, B:\n    pass\nexcept (C, D):\n    pass\n"
        "except (F, G) as g:\n    pass\ntry:\n    pass\nexcept* (C, D):\n    pass\n"
    ),
    "walrus_shapes": "a[x := 1]\na[(x := 1)]\n{x := 1, 2}\n{(x := 1), 2}\n[x := 1, 2]\n",
    "tstrings": 't"{x}"\nT"{x}"\ntr"{x}"\nRt"{x}"\nx = t"a" t"b"\ndon\'t = 1\n',
    "type_params_methods": "class D:\n    def m[T](self): pass\nclass E[T](F[T]): pass\n",
}

# Where drain-ls follows CPython and ruff 0.17.6 does not: ruff reports a default only for a
# plain TypeVar, never for a TypeVarTuple (``*Ts = ...``) or a ParamSpec (``**P = ...``),
# which CPython 3.12 rejects all the same.
RUFF_MISSES = re.compile(r"^= (\*|\[|\.\.\.|Unpack)")


def _check(source: str, target: PythonVersion) -> list[tuple[int, int, str]]:
    data = normalize_lone_cr(source.encode())
    tree = parse(data)
    return version_errors(tree.root_node, data, target)


def test_target_names() -> None:
    assert [v.setting for v in PythonVersion][1:] == [
        "py38",
        "py39",
        "py310",
        "py311",
        "py312",
        "py313",
        "py314",
    ]
    assert DEFAULT_TARGET is PythonVersion.PY314
    for version in PythonVersion:
        assert parse_target_version(version.setting) is version
        assert parse_target_version(str(version)) is version
    assert parse_target_version(" PY311 ") is PythonVersion.PY311
    with pytest.raises(ValueError, match="py38"):
        parse_target_version("py315")
    with pytest.raises(ValueError):
        parse_target_version("3")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (">=3.10", PythonVersion.PY310),
        (">=3.9,<4", PythonVersion.PY39),
        ("~=3.11.2", PythonVersion.PY311),
        ("==3.12.*", PythonVersion.PY312),
        (">= 3.8, != 3.9.1", PythonVersion.PY38),
        (">=3.16", PythonVersion.PY314),
        ("<3.12", None),
        (">=2.7", None),
        ("", None),
        ("garbage", None),
    ],
)
def test_target_from_requires_python(spec: str, expected: PythonVersion | None) -> None:
    assert target_from_requires_python(spec) is expected


@pytest.mark.parametrize(("name", "minor", "source"), VALID, ids=[v[0] for v in VALID])
def test_newest_target_accepts_everything(name: str, minor: int, source: str) -> None:
    assert _check(source, PythonVersion.PY314) == []


GATED = [v for v in VALID if v[1] >= 8]


@pytest.mark.parametrize(("name", "minor", "source"), GATED, ids=[v[0] for v in GATED])
def test_error_just_below_the_version(name: str, minor: int, source: str) -> None:
    assert _check(source, PythonVersion(minor)) == []
    below = PythonVersion(minor - 1)
    errors = _check(source, below)
    assert errors, name
    for start, end, message in errors:
        assert start <= end <= len(source.encode())
        assert f"on Python {below} " in message, message
    if minor <= 14:
        assert all(f"3.{minor}" in message for *_, message in errors), errors


def test_messages_in_ruffs_words() -> None:
    src = "match x:\n    case 1:\n        pass\n"
    assert _check(src, PythonVersion.PY39) == [
        (0, 5, "Cannot use `match` statement on Python 3.9 (syntax was added in Python 3.10)")
    ]
    assert _check("def f[T = int](): ...\n", PythonVersion.PY312) == [
        (
            8,
            13,
            "Cannot set default type for a type parameter on Python 3.12 "
            "(syntax was added in Python 3.13)",
        )
    ]
    [(start, end, message)] = _check("@a[0]\ndef f(): ...\n", PythonVersion.PY38)
    assert (start, end) == (1, 5)
    assert message.startswith("Cannot use subscript expression outside function call arguments")


def test_ruff_quirks_followed() -> None:
    # ruff reads ``match`` before ( [ * + - as an identifier first, then does not gate it.
    for subject in ("(a)", "[a]", "*a, b", "-a"):
        assert _check(f"match {subject}:\n    case _:\n        pass\n", PythonVersion.PY38) == []
    # A format spec is not a walrus; a walrus statement is a syntax error of its own.
    assert _check('f"{x:=10}"\n', PythonVersion.PY37) == []
    assert _check("x := 1\n", PythonVersion.PY37) == []


def test_words_in_strings_and_comments_are_not_constructs() -> None:
    src = "x = 'match y: type Z = int'  # except* async for\ny = \"f'{a}' t'b'\"\n"
    assert _check(src, PythonVersion.PY37) == []


def test_type_parameter_defaults_of_broken_type_statements() -> None:
    src = b"type A[*Ts = *tuple[int], T = int] = int\n"
    tree = parse(src)
    assert tree.root_node.has_error  # tree-sitter-python 0.25 cannot parse it
    gaps = tree_errors(tree.root_node, src)
    assert gaps.errors == []
    errors = version_errors(tree.root_node, src, PythonVersion.PY311, gaps)
    assert [src[s:e] for s, e, _ in errors] == [b"type", b"= *tuple[int]", b"= int"]


@pytest.mark.skipif(RUNNING is None or RUNNING < PythonVersion.PY38, reason="Python 3.8+")
@pytest.mark.parametrize(("name", "minor", "source"), VALID, ids=[v[0] for v in VALID])
def test_verdict_at_the_running_version_matches_compile(name: str, minor: int, source: str) -> None:
    """The verdict never depends on the interpreter; at its own version it matches it."""
    assert RUNNING is not None
    if name.startswith("walrus_unparenthesized") and RUNNING == PythonVersion.PY39:
        pytest.skip("ruff gates this at 3.9; CPython 3.9.18 still rejects it")
    try:
        compile(source.encode(), name, "exec", flags=0x400, dont_inherit=True)
        accepted = True
    except SyntaxError:
        accepted = False
    assert accepted == (minor <= RUNNING), "the corpus is wrong about this snippet"
    assert (not _check(source, RUNNING)) == accepted


def _ruff_version_errors(
    directory: Path, target: PythonVersion
) -> dict[str, set[tuple[int, int, str]]]:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    output = subprocess.run(
        [
            ruff,
            "check",
            "--isolated",
            "--no-cache",
            "--select",
            "F401",
            "--target-version",
            target.setting,
            "--output-format",
            "json",
            str(directory),
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    found: dict[str, set[tuple[int, int, str]]] = {}
    for row in json.loads(output):
        message = row["message"]
        if row["code"] != "invalid-syntax" or not re.search(
            r"on Python 3\.\d+ (\(syntax was|unless)", message
        ):
            continue
        path = Path(row["filename"])
        starts = _line_starts(path.read_bytes())
        begin = starts[row["location"]["row"] - 1] + row["location"]["column"] - 1
        end = starts[row["end_location"]["row"] - 1] + row["end_location"]["column"] - 1
        found.setdefault(path.name, set()).add((begin, end, message))
    return found


def _line_starts(data: bytes) -> list[int]:
    starts = [0]
    for match in re.finditer(rb"\r\n|\r|\n", data):
        starts.append(match.end())
    return starts


@pytest.mark.skipif(
    not (shutil.which("ruff") or (Path(sys.executable).parent / "ruff").exists()),
    reason="ruff is a test dependency",
)
def test_same_errors_as_ruff_at_every_target(tmp_path: Path) -> None:
    """Columns agree only on ASCII snippets (ruff counts characters): the corpus has just
    those among its version-gated ones, and the BOM case is skipped."""
    sources = {name: source for name, _, source in VALID if source.isascii()}
    sources.update(EXTRA)
    for name, source in sources.items():
        (tmp_path / f"{name}.py").write_bytes(source.encode())
    for target in PythonVersion:
        theirs = _ruff_version_errors(tmp_path, target)
        if target == PythonVersion.PY38:
            assert sum(map(len, theirs.values())) > 100  # the comparison compares something
        for name, source in sources.items():
            data = source.encode()
            mine = set(_check(source, target))
            expected = theirs.get(f"{name}.py", set())
            extra = {
                e for e in mine - expected if not RUFF_MISSES.match(data[e[0] : e[1]].decode())
            }
            assert extra == set() and expected - mine == set(), (target, name)
