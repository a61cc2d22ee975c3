"""Long runs of comment lines are left out of the parse: tree-sitter-python's scanner would
read ahead over the rest of the run at every line break (quadratic: 10,000 lines took 13 s).
Nothing but comment nodes may change, and nothing the checks report."""

from __future__ import annotations

import ast
import time
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, given, settings
from tree_sitter import Node, Parser

from drain_ls.analysis import forest
from drain_ls.analysis import source as source_module
from drain_ls.analysis.checker import check_source
from drain_ls.analysis.source import PY_LANGUAGE, comment_gaps, parse
from drain_ls.lsp.documents import Document
from tests.test_forest import START, apply_edit, assert_sound, sessions


def skeleton(node: Node) -> list[tuple[object, ...]]:
    """Every node but comments, by type and start, and every token with its end: what a
    gap may not change (a block no longer reaches over comment lines that end it)."""
    out: list[tuple[object, ...]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type != "comment":
            leaf = (n.end_byte, n.is_missing) if n.child_count == 0 else ()
            out.append((n.type, n.start_byte, *leaf))
        stack.extend(reversed(n.children))
    return out


def plain_parse(source: bytes) -> Node:
    return Parser(PY_LANGUAGE).parse(source).root_node


def python_parses(source: bytes) -> bool:
    try:
        ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return True


def assert_gaps_change_nothing(source: bytes) -> None:
    """A parse with gaps has the nodes of a parse without them, comments aside. Where they
    disagree on whether there is an error, tree-sitter read the comments wrongly (a comment
    less indented than its block, a one-quote string it carried over a line break), and the
    parse with gaps must agree with Python's own parser."""
    gapped, plain = parse(source).root_node, plain_parse(source)
    if gapped.has_error != plain.has_error:
        assert gapped.has_error != python_parses(source)
    elif not plain.has_error:
        assert skeleton(gapped) == skeleton(plain)


def blanked(source: bytes) -> bytes:
    """The source with every comment line turned into spaces (same offsets)."""
    lines = source.split(b"\n")
    return b"\n".join(b" " * len(x) if x.lstrip().startswith(b"#") else x for x in lines)


def run_of_comments(lines: int, indent: str = "") -> str:
    return "".join(f"{indent}# commented out {i}: os.path.join(a, b)\n" for i in range(lines))


def test_a_long_run_of_comments_costs_what_blank_lines_cost() -> None:
    text = ('"""M."""\nimport os\nx = 1\n' + run_of_comments(5000) + "y = os\n").encode()
    peer = blanked(text)  # blank lines: the scanner skips them in one pass
    assert comment_gaps(text, 0, len(text))

    def best(source: bytes) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            parse(source)
            times.append(time.perf_counter() - start)
        return min(times)

    # Parsed whole, the run takes seconds (~3,000x the peer); left out, about the same.
    assert best(text) < 20 * best(peer) + 0.002


@pytest.mark.parametrize(
    "where",
    [
        "module",  # between module-level statements
        "body",  # at the end of a function body
        "class",  # inside a class, between methods
        "brackets",  # inside a list
        "trailing",  # after a comment on a line of code
    ],
)
def test_what_the_checks_report_does_not_change(where: str) -> None:
    run = run_of_comments(80, "    " if where in ("body", "class", "brackets") else "")
    text = {
        "module": f'"""M."""\nimport os\nimport sys\nx = 1\n{run}def f():\n    return sys\n',
        "body": f'"""M."""\nimport os\nimport sys\n\n\ndef f():\n    x = sys\n{run}\n\nclass C:\n    def m(self):\n        pass\n',
        "class": f'"""M."""\nimport os\n\n\nclass C:\n    def a(self):\n        pass\n{run}    def b(self):\n        return os\n',
        "brackets": f'"""M."""\nimport os\nimport sys\nx = [\n    1,\n{run}    sys,\n]\n\n\ndef f():\n    pass\n',
        "trailing": f'"""M."""\nimport os\nimport sys\nx = 1  # note\n{run}def g():\n    return sys\n',
    }[where].encode()
    assert comment_gaps(text, 0, len(text)), "the run is left out of the parse"
    got = [(f.code, f.start, f.end) for f in check_source(text, "m.py")]
    want = [(f.code, f.start, f.end) for f in check_source(blanked(text), "m.py")]
    assert got == want
    assert got  # the file has findings (an unused import, missing docstrings)


def test_comment_lines_inside_a_string_are_parsed() -> None:
    # They are string content, here with a use of ``os``: leaving them out would lose it.
    text = (
        '"""M."""\nimport os\n\n\ndef report():\n    """R."""\n    return f"""\n'
        + "".join(f"# line {i}: {{os.sep}}\n" for i in range(100))
        + '"""\n'
    ).encode()
    assert comment_gaps(text, 0, len(text))  # they look like a run of comments
    assert check_source(text, "m.py") == []
    tree = parse(text)
    assert skeleton(tree.root_node) == skeleton(plain_parse(text))


def test_a_run_after_a_line_continuation_is_kept() -> None:
    text = ("x = 1 + \\\n" + run_of_comments(100) + "2\n").encode()
    assert comment_gaps(text, 0, len(text)) == []


def test_a_run_after_a_backslash_and_blank_lines_is_kept() -> None:
    text = ("x = 1\n\\\n \n" + run_of_comments(100) + "''\n").encode()
    assert comment_gaps(text, 0, len(text)) == []


def test_a_run_with_a_nul_byte_is_kept() -> None:
    # tree-sitter ends a comment at a NUL, and the file is not valid Python: the error stays.
    text = b'"""M."""\nx = 1\n# a\x00b\n' + run_of_comments(100).encode() + b"y = 2\n"
    assert comment_gaps(text, 0, len(text)) == []
    assert [f.code for f in check_source(text, "m.py")] == ["E999"]


def test_comments_less_indented_than_their_block_are_no_error() -> None:
    # Valid Python. tree-sitter-python's scanner dedents before such a comment and reports an
    # error; a long run of them is left out of the parse, and the error with it.
    text = (
        '"""M."""\n\n\nclass C:\n    """C."""\n\n    @property\n'
        + run_of_comments(80)
        + "    def f(self):\n        return 1\n"
    ).encode()
    assert plain_parse(text).has_error
    assert [f.code for f in check_source(text, "m.py")] == ["D102"]


def test_a_run_at_the_start_is_kept() -> None:
    # Before any code the scanner reads it once: nothing to save.
    text = (run_of_comments(100) + '"""M."""\nimport os\n').encode()
    assert comment_gaps(text, 0, len(text)) == []


@pytest.mark.parametrize("chunk_lines", [2, 5])
# The same examples in every run: exploring further is the fuzzer's job
# (``benchmarks/reparse/fuzz_forest.py SEED SECONDS 1``).
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(edits=sessions())
def test_gaps_change_no_node_but_comments_while_editing(
    chunk_lines: int, edits: list[tuple[float, int, str]]
) -> None:
    # Every run of one comment line or more becomes a gap: gaps everywhere the edits go.
    with (
        patch.object(forest, "CHUNK_LINES", chunk_lines),
        patch.object(source_module, "LONG_COMMENT_RUN", 1),
    ):
        doc = Document("file:///m.py", START.encode(), 1)
        for where, length, text in edits:
            apply_edit(doc, where, length, text)
            assert_sound(doc)  # chunks, reparsed with gaps, are what fresh parses give
            assert_gaps_change_nothing(doc.source)
