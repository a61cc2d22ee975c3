"""Where tree-sitter-python 0.25 parses valid Python wrongly (``drain_ls.analysis.grammar_gaps``):
lone CR line ends and PEP 696 type parameter defaults."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drain_ls.analysis.grammar_gaps import (
    is_type_param_default_error,
    lone_cr_edit_start,
    normalize_lone_cr,
    tree_errors,
)
from drain_ls.analysis.source import parse
from tests.syntax_corpus import VALID

PEP696 = [v for v in VALID if v[0].startswith("pep696")]


def test_lone_cr_parses_once_normalized() -> None:
    source = b"import os\rx = 1\rif x:\r    pass\r"
    assert parse(source).root_node.has_error  # the gap
    fixed = normalize_lone_cr(source)
    assert len(fixed) == len(source)
    tree = parse(fixed)
    assert not tree.root_node.has_error
    statements = tree.root_node.named_children
    assert [s.type for s in statements] == [
        "import_statement",
        "expression_statement",
        "if_statement",
    ]
    # Offsets hold: every node's text is the original's.
    for node in statements:
        assert source[node.start_byte : node.end_byte].replace(b"\r", b"\n") == node.text
    assert [s.start_point.row for s in statements] == [0, 1, 2]


def test_crlf_and_no_cr_untouched() -> None:
    plain = b"x = 1\ny = 2\n"
    assert normalize_lone_cr(plain) is plain
    crlf = b"x = 1\r\ny = 2\r\n"
    assert normalize_lone_cr(crlf) is crlf
    mixed = b"a\r\nb\rc\r"
    assert normalize_lone_cr(mixed) == b"a\r\nb\nc\n"


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="a\r\n", max_size=12),
    st.text(alphabet="a\r\n", max_size=4),
    st.data(),
)
def test_lone_cr_edit_start_bounds_the_change(
    text: str, inserted: str, data: st.DataObject
) -> None:
    old = text.encode()
    start = data.draw(st.integers(0, len(old)))
    old_end = data.draw(st.integers(start, len(old)))
    new = old[:start] + inserted.encode() + old[old_end:]
    new_end = start + len(inserted)
    begin = lone_cr_edit_start(old, start)
    before, after = normalize_lone_cr(old), normalize_lone_cr(new)
    assert before[:begin] == after[:begin]
    assert before[old_end:] == after[new_end:]


@pytest.mark.parametrize(("name", "minor", "source"), PEP696, ids=[v[0] for v in PEP696])
def test_type_parameter_defaults_accepted(name: str, minor: int, source: str) -> None:
    data = source.encode()
    tree = parse(data)
    assert tree.root_node.has_error, "tree-sitter-python parses it now: drop the fix-up?"
    gaps = tree_errors(tree.root_node, data)
    assert gaps.errors == []
    assert gaps.type_param_defaults
    for equal, end in gaps.type_param_defaults:
        text = data[equal:end]
        assert text.startswith(b"=") and text[1:].strip() and text == text.rstrip()


def test_small_shapes_recognized() -> None:
    data = b"class C[T, U = int, *Ts = *tuple[int, ...], **P = [int]]: pass\n"
    tree = parse(data)
    errors = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR":
            errors.append(node)
        stack.extend(node.children)
    assert len(errors) == 3
    assert all(is_type_param_default_error(e) for e in errors)
    gaps = tree_errors(tree.root_node, data)
    assert [data[s:e] for s, e in gaps.type_param_defaults] == [
        b"= int",
        b"= *tuple[int, ...]",
        b"= [int]",
    ]


@pytest.mark.parametrize(
    "source",
    [
        "x: A[T = int]\n",  # not a type parameter list: a subscript in an annotation
        "class C[T = ]: pass\n",  # no default
        "def f[T = int]():\n    return (\n",  # another error in the function
        "def f[T = int](: pass\n",
        "type A[T = X] = \n",
        "def f[T = (]: pass\n",
    ],
)
def test_real_errors_stay(source: str) -> None:
    data = source.encode()
    tree = parse(data)
    assert tree_errors(tree.root_node, data).errors


def test_clean_tree_costs_nothing() -> None:
    data = b"def f[T](x: T) -> T: ...\n"
    tree = parse(data)
    assert tree_errors(tree.root_node, data) == ([], [], [], None)


def test_error_outside_the_header_is_kept() -> None:
    data = b"class C[T = int]:\n    x = (\n"
    tree = parse(data)
    gaps = tree_errors(tree.root_node, data)
    assert gaps.errors
    assert all(e.start_byte >= data.index(b"x =") or e.type == "ERROR" for e in gaps.errors)
