"""Re-analysing only what an edit touches gives exactly what a fresh analysis gives."""

from __future__ import annotations

import warnings
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from drain_ls.analysis import forest
from drain_ls.analysis import incremental as incremental_module
from drain_ls.analysis.checker import CheckSettings, check_source, error_regions
from drain_ls.analysis.incremental import ChangeLog, IncrementalChecker
from drain_ls.analysis.model import Finding
from drain_ls.analysis.versions import PythonVersion
from drain_ls.lsp.documents import Document

START = '''"""Module."""
import os
import sys
from typing import Any, overload
import json as js


def f(x):
    return os.path.join(x)


class C:
    """C."""

    def m(self):
        return js


def g():
    import re
    return 1
'''

SNIPPETS = [
    # The edit shapes of the latency benchmark (issue 17).
    "[",
    "{",
    '"',
    "'''",
    "\\",
    "def f(",
    "from x import (",
    "@decorator\n",
    "os",
    "sys",
    "js",
    "re",
    "Any",
    "x",
    " ",
    "\n",
    "    ",
    "import os\n",
    "import re\n",
    "del os\n",
    "global sys\n",
    "def h():\n    ",
    "class D:\n    ",
    '"""Doc."""\n',
    "__all__ = ['f']\n",
    "__all__ = ['os', 'C', 'g']\n",
    "'sys', ",
    "@overload\n",
    "(",
    ")",
    ":",
    "#",
    "'",
    "lambda: sys",
    "_",
]


def _opened(
    text: str, fix_factories: bool = False
) -> tuple[Document, IncrementalChecker, list[Finding]]:
    """A document of ``text`` with a checker (default settings) that analysed it."""
    doc = Document("file:///m.py", text.encode(), 1)
    checker = IncrementalChecker("/tmp/m.py", CheckSettings(), fix_factories=fix_factories)
    findings = checker.check(doc.source, doc.tree, doc.changes)
    doc.changes.reset()
    return doc, checker, findings


def shape(findings):  # type: ignore[no-untyped-def]
    return [(f.code, f.start, f.end, f.message, f.noqa_offsets, f.data) for f in findings]


@st.composite
def edit_sequences(draw: st.DrawFn) -> list[tuple[float, float, str]]:
    edits = []
    for _ in range(draw(st.integers(1, 15))):
        a = draw(st.floats(0, 1))
        length = draw(st.sampled_from([0, 0, 0, 1, 2, 5, 20]))
        edits.append((a, length, draw(st.sampled_from(SNIPPETS))))
    return edits


# Documents this small are one tree; with a chunk size of a line or three they are cut into
# chunks (drain_ls.analysis.forest) at their first edit, as large files are.
@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 1, 3])
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=edit_sequences(), batch=st.booleans(), fix_factories=st.booleans())
# An unexpected indent on the first line, then a bracket opened after it and never closed:
# the indentation scan now stops there, and only CPython's verdict of the tree's error
# stands (the incremental check kept the old event).
@example(
    edits=[(0.0, 0, "    "), (1.0, 0, "["), (1.0, 0, "["), (0.078125, 0, "[")],
    batch=False,
    fix_factories=False,
)
@example(edits=[(0.1875, 20, "os")], batch=False, fix_factories=False)
# ``[`` before ``import os`` on the first line: tree-sitter leaves it in an ERROR node and
# starts a statement on the next line, while the indentation check stays inside the bracket
# to a mismatched ``)`` far below; a ``[`` typed between them then changes its event at 0
# (the check had kept it: the edit lay past the next statement of the broken tree).
@example(
    edits=[
        (0.703125, 5, '"""Doc."""\n'),
        *[(0.0, 0, "[")] * 5,
        (0.0, 5, "import os\n"),
        (0.0, 0, "["),
        (0.5, 0, "["),
    ],
    batch=False,
    fix_factories=False,
)
# ``import json as@overload`` typed above an unmoved ``@overload`` ``def`` binds ``overload``
# otherwise too (tree-sitter reads ``as overload``): the def is no overload any more, but the
# incremental check kept its old verdict (found by hypothesis in CI).
@example(
    edits=[(0.0, 5, "["), (0.59375, 20, "@overload\n"), (0.375, 0, "@overload\n")],
    batch=False,
    fix_factories=False,
)
# ``lambda: sys`` typed after ``class C``: ``class Clambda: sys:`` then the class's docstring,
# which tree-sitter reads as the annotation of ``sys`` (no error): the command line said D102
# of its method, the editor D103 (found by hypothesis in CI). It is an E999 now.
@example(edits=[(0.6015625, 0, "lambda: sys")], batch=False, fix_factories=False)
def test_incremental_equals_fresh(
    chunk_lines: int, edits: list[tuple[float, int, str]], batch: bool, fix_factories: bool
) -> None:
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        _check_incremental_equals_fresh(edits, batch, fix_factories)


def _check_incremental_equals_fresh(
    edits: list[tuple[float, int, str]], batch: bool, fix_factories: bool
) -> None:
    # Without fix factories (the server), findings of unmoved statements are reused.
    doc, checker, _ = _opened(START, fix_factories)
    check = checker.settings
    for fraction, length, text in edits:
        start = int(fraction * len(doc.source))
        # Stay on character boundaries (the sample is ASCII) and inside the document.
        end = min(len(doc.source), start + int(length))
        doc.replace(start, end, text)
        if batch and fraction < 0.5:
            continue  # let changes pile up, as when typing faster than the debounce
        incremental = checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        fresh = check_source(doc.source, "/tmp/m.py", check, doc.tree, tolerant=True)
        fresh_e999 = [f for f in fresh if f.code == "E999"]
        assert shape([f for f in incremental if f.code != "E999"]) == shape(
            [f for f in fresh if f.code != "E999"]
        )
        # The same syntax errors, found the same way (only the statements an edit touched are
        # checked again); never one in code CPython compiles (issue 18: tree-sitter, not the
        # file, is wrong there), always one where the tree has an error CPython confirms.
        # (Not every error CPython finds: tree-sitter accepts some invalid code, such as
        # ``from m`` and ``import x`` on the next line; the syntax fuzzing measures recall.)
        incremental_e999 = [f for f in incremental if f.code == "E999"]
        assert shape(incremental_e999) == shape(fresh_e999)
        compiles = _compiles(doc.source)
        if compiles:
            assert not incremental_e999
        if doc.tree.root_node.has_error and not compiles:
            assert incremental_e999
        if not doc.tree.root_node.has_error:
            # Chunks or not, an error-free document is analysed as a parse of the whole.
            whole = check_source(doc.source, "/tmp/m.py", check, tolerant=True)
            assert shape(incremental) == shape(whole)


def _compiles(source: bytes) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in the edited strings
            compile(source, "<m>", "exec", flags=0x400, dont_inherit=True)  # ONLY_AST
    except (SyntaxError, ValueError):
        return False
    return True


def test_change_log_moves_offsets_and_drops_edited_ones() -> None:
    log = ChangeLog()
    log.add(10, 12, 15, b"ab", [])
    assert log.move(5) == 5
    assert log.move(12) == 15
    assert log.move(11) is None
    log.add(0, 0, 3, b"", [])
    assert log.move(12) == 18


BIG = "".join(
    f"def f{i}(x):\n    return x\n\n\nclass C{i}:\n    def __init__(self):\n        pass\n\n\n"
    for i in range(40)
)


def _edits_of_big() -> list[tuple[str, int, str]]:
    """Edits (at the first occurrence of a text, so many bytes replaced by a text) that move
    findings to other lines and columns, change a message (``__init__`` renamed: D107 becomes
    D102), make a definition private, add and remove ``__all__`` (the context), between
    statements and inside them."""
    return [
        ("", 0, "\n\n"),  # every finding moves down two lines
        ("def f3", 0, "x = 1\n"),  # a statement inserted between two
        ("__init__(self):\n        pass\n\n\ndef f5", 8, "init2"),
        ("f7(x)", 0, "_"),  # private now
        ("class C9", 0, "__all__ = ['f1']\n"),  # the context changes
        ("'f1'", 0, "'f2', "),  # __all__ lists one more name
        ("'f1'", 4, "'C4'"),  # and one other
        ("__all__", len("__all__ = ['f2', 'C4']\n"), ""),
        ("        pass\n\n\ndef f39", 0, "    "),  # inside a block
        ("def f20", len(BIG[BIG.index("def f20") : BIG.index("def f21")]), ""),  # deleted
        ("def f30", 3, "class"),  # a function becomes a class
        ("\n\n\ndef f35", 0, " "),  # whitespace between statements
        ("\n\n\ndef f36", 1, ""),
        ("", 0, '"""Module."""\n'),
    ]


def test_incremental_equals_fresh_on_a_larger_module() -> None:
    for fix_factories in (True, False):
        doc, checker, _ = _opened(BIG, fix_factories)
        check = checker.settings
        for anchor, length, text in _edits_of_big():
            start = doc.source.index(anchor.encode())
            doc.replace(start, start + length, text)
            incremental = checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            fresh = check_source(doc.source, "/tmp/m.py", check, doc.tree, tolerant=True)
            assert shape(incremental) == shape(fresh)
            factories = [f.fix_factory is not None for f in incremental if f.code >= "D101"]
            assert all(factories) if fix_factories else not any(factories)


@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 1, 3])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(edits=edit_sequences())
# Errors on the first and fourth lines make tree-sitter read ``def f(x):`` below them as an
# ERROR node, which compiles alone: its D103, moved from the last analysis, was shown.
@example(
    edits=[
        (0.0, 0, "["),
        (0.0, 0, "["),
        (0.0, 20, "lambda: sys"),
        (0.3125, 0, "def h():\n    "),
        (0.40625, 0, '"""Doc."""\n'),
    ]
)
def test_error_versions_are_shown_provisionally_then_analysed_exactly(
    chunk_lines: int, edits: list[tuple[float, int, str]]
) -> None:
    """The server's way: a version with a syntax error gets ``provisional`` findings and keeps
    its changes; the next error-free version is checked with every change since."""
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        doc, checker, last = _opened(START)
        check, last_source = checker.settings, doc.source
        for fraction, length, text in edits:
            start = int(fraction * len(doc.source))
            doc.replace(start, min(len(doc.source), start + int(length)), text)
            if doc.tree.root_node.has_error:
                shown = checker.provisional(doc.source, doc.tree, doc.changes)
                assert shown is not None
                regions = error_regions(doc.tree)
                before = {(f.code, f.message, last_source[f.start : f.end]) for f in last}
                for f in shown:
                    if f.code == "E999":
                        continue
                    # A finding of the last analysis, on the same text, away from the error.
                    assert (f.code, f.message, doc.source[f.start : f.end]) in before
                    assert not any(f.start < e and s < f.end for s, e in regions)
                assert [f.code for f in shown].count("E999") == 1
                continue
            found = checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            fresh = check_source(doc.source, "/tmp/m.py", check, doc.tree, tolerant=True)
            assert shape(found) == shape(fresh)
            last_source, last = doc.source, found


def test_a_typo_undone_is_not_analysed_again() -> None:
    doc, checker, first = _opened(START)
    at = doc.source.index(b"def f")
    doc.replace(at, at, "x")  # "xdef f(x):" does not parse
    assert doc.tree.root_node.has_error
    shown = checker.provisional(doc.source, doc.tree, doc.changes)
    assert shown is not None and "E999" in [f.code for f in shown]
    doc.replace(at, at + 1, "")
    with patch(
        "drain_ls.analysis.incremental.unused_bindings_of", side_effect=AssertionError("analysed")
    ):
        again = checker.check(doc.source, doc.tree, doc.changes)
    assert shape(again) == shape(first)


def test_names_listed_in_all_or_no_longer_are_analysed_again() -> None:
    text = "import os, sys, json\nfrom x import y as y\n__all__ = ['os']\n\n\ndef f(): pass\n"
    steps = [
        ("'os'", 4, "'sys'"),  # os unused now, sys used
        ("'sys'", 0, "'json', 'f', "),
        ("'f', ", 5, ""),
        ("__all__ = [", 0, "x = 1\n"),
        ("'json', ", 8, ""),
        ("__all__", 7, "__all_"),  # no __all__ any more; no name of it edited
    ]
    doc, checker, _ = _opened(text)
    check = checker.settings
    seen = []
    for anchor, length, new in steps:
        start = doc.source.index(anchor.encode())
        doc.replace(start, start + length, new)
        incremental = checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        fresh = check_source(doc.source, "/tmp/m.py", check, doc.tree, tolerant=True)
        assert shape(incremental) == shape(fresh)
        seen.append(sorted(f.data.get("name", f.code) for f in incremental if f.code != "D100"))
    assert seen == [
        ["json", "os"],
        ["D103", "os"],
        ["os"],
        ["os"],
        ["json", "os"],
        ["D103", "json", "os", "sys"],
    ]


def test_the_same_text_with_its_error_elsewhere_is_analysed_again() -> None:
    """A typo undone gives back the last findings only when both versions parse cleanly: with
    a syntax error, what the findings leave out depends on where the document's chunks keep
    the error, which the same text need not have twice (found by hypothesis)."""
    edits = (
        [(0.0, 0, "["), (0.3125, 20, "[")] + [(0.0, 0, "[")] * 5 + [(1.0, 0, "["), (0.75, 1, " ")]
    )
    with patch.object(forest, "CHUNK_LINES", 1):
        _check_incremental_equals_fresh(edits, batch=False, fix_factories=False)


@pytest.mark.parametrize(
    ("anchor", "length", "text"),
    [
        ("import sys\n", len("import sys"), "import sys  # noqa"),
        ("import sys\n", len("import sys"), "import sys  # NoQA: F401"),
        ("import sys\n", len("import sys"), "import sys  # noxqa"),  # then "x" deleted
    ],
)
def test_a_noqa_typed_or_erased_is_honoured(anchor: str, length: int, text: str) -> None:
    """The checker looks for "noqa" only in the edited text while the file had none."""
    doc, checker, first = _opened(START)
    assert "sys" in [f.data.get("name") for f in first]
    steps = [(anchor, length, text)]
    if "noxqa" in text:
        steps.append(("xqa", 1, ""))
    steps.append(("  # ", len(text) - len("import sys") - ("noxqa" in text), ""))
    for where, size, new in steps:
        at = doc.source.index(where.encode())
        doc.replace(at, at + size, new)
        found = checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        fresh = check_source(doc.source, "/tmp/m.py", checker.settings, doc.tree, tolerant=True)
        assert shape(found) == shape(fresh)
        silenced = b"noqa" in doc.source.lower() and b"noxqa" not in doc.source
        assert ("sys" in [f.data.get("name") for f in found]) != silenced


def test_all_is_looked_for_only_when_an_edit_may_have_changed_it() -> None:
    """``__all__`` is read again when an edit touches a statement that mentions it or writes
    the word (here in two pieces); an edit elsewhere does not search the file for it."""
    text = START + "\n__all__ = ['f', 'C']\n"
    doc, checker, _ = _opened(text)
    searched: list[bytes] = []
    real = incremental_module.word_occurrences

    def counting(source: bytes, word: bytes) -> list[tuple[int, int]]:
        searched.append(word)
        return real(source, word)

    steps = [
        ("return 1", 0, "x = 2\n    "),  # elsewhere: not searched
        ("'C'", 0, "'g', "),  # in the list: g is public again
        ("\n__all__", 0, "\n__al"),  # half a word: no __all__ written, not searched
        ("\n__al\n", len("\n__al"), "\n__al" + "l__ = ['f']"),  # now two
    ]
    with patch.object(incremental_module, "word_occurrences", counting):
        for k, (anchor, length, new) in enumerate(steps):
            at = doc.source.index(anchor.encode())
            doc.replace(at, at + length, new)
            searched.clear()
            found = checker.check(doc.source, doc.tree, doc.changes)
            doc.changes.reset()
            fresh = check_source(doc.source, "/tmp/m.py", checker.settings, doc.tree, tolerant=True)
            assert shape(found) == shape(fresh)
            assert (b"__all__" in searched) == (k in (1, 3)), k


def test_a_noqa_typed_while_nothing_was_found_is_honoured_later() -> None:
    """A version without findings is not searched for "noqa": the next one is, in full."""
    doc, checker, first = _opened('"""Module."""\nimport y\nx = 1\n')
    assert [f.data.get("name") for f in first] == ["y"]
    steps = [
        [("import y\n", 9, ""), ("x = 1", 5, "x = 1  # noqa")],  # nothing found
        [("x = 1", 5, "import x")],  # now silenced by the directive on its line
    ]
    for step in steps:
        for anchor, length, new in step:
            at = doc.source.index(anchor.encode())
            doc.replace(at, at + length, new)
        found = checker.check(doc.source, doc.tree, doc.changes)
        doc.changes.reset()
        assert found == []


@pytest.mark.parametrize(
    ("text", "chunk_lines"),
    [
        ("# c\n'''Doc.'''\nx = 1\ny = 2\nz = 3\nw = 4\n", 1),
        # A licence header of 100 comment lines, then the docstring, at the default chunk size.
        ("# licence\n" * 100 + '"""Doc."""\n' + "x = 1\n" * 150, forest.CHUNK_LINES),
    ],
)
def test_a_docstring_after_a_chunk_of_comments_is_the_modules(text: str, chunk_lines: int) -> None:
    """A large file is cut into chunks (``forest``): when comments fill the first, the module's
    docstring is the next chunk's first statement (it was a false D100; found by fuzzing
    edits of real files)."""
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        for settle in (True, False):
            doc, checker, _ = _opened(text)
            if settle:
                doc.tree.settle()  # what the server does after opening a large file
            else:
                doc.replace(len(doc.source), len(doc.source), "v = 5\n")  # the first edit cuts
            found = checker.check(doc.source, doc.tree, doc.changes)
            assert len(list(doc.tree.trees)) > 1  # cut into chunks
            whole = check_source(doc.source, "/tmp/m.py", checker.settings, tolerant=True)
            assert shape(found) == shape(whole)
            assert "D100" not in [f.code for f in found]


_FUTURE = "from __future__ import annotations\n"


@pytest.mark.parametrize(
    ("text", "edit"),
    [
        # ``annotations`` selected and retyped as ``division``: ``Foo`` is no longer used.
        ('"""Doc."""\n' + _FUTURE + "x: Foo = 1\nfrom m import Foo\n", ("annotations", "division")),
        # The line pasted: the annotation is deferred, so it uses ``Foo`` imported below.
        ('"""Doc."""\nx: Foo = 1\nfrom m import Foo\n', ('"""Doc."""\n', '"""Doc."""\n' + _FUTURE)),
        # The line deleted above a ``def`` whose annotation is then evaluated at once.
        (
            '"""Doc."""\n' + _FUTURE + '\n\ndef f(x: Foo):\n    """F."""\n\n\nfrom m import Foo\n',
            (_FUTURE, ""),
        ),
    ],
)
def test_a_future_import_edited_analyses_every_name_again(text: str, edit: tuple[str, str]) -> None:
    """Below Python 3.14, ``from __future__ import annotations`` decides whether an annotation
    uses an import made below it: an edit of that line changes every name's verdict, though
    it spells none (found by fuzzing edits of real files)."""
    settings = CheckSettings(target_version=PythonVersion.PY311)
    doc = Document("file:///m.py", text.encode(), 1)
    checker = IncrementalChecker("/tmp/m.py", settings, fix_factories=False)
    checker.check(doc.source, doc.tree, doc.changes)
    doc.changes.reset()
    old, new = edit
    start = doc.source.index(old.encode())
    doc.replace(start, start + len(old.encode()), new)
    found = checker.check(doc.source, doc.tree, doc.changes)
    fresh = check_source(doc.source, "/tmp/m.py", settings, doc.tree, tolerant=True)
    assert shape(found) == shape(fresh)


@pytest.mark.parametrize("chunk_lines", [forest.CHUNK_LINES, 1, 3])
@pytest.mark.parametrize(
    ("start", "end", "text"), [(9, 9, "y = 0\n"), (9, 15, ""), (9, 9, "y = (\n1)\n")]
)
def test_an_error_that_names_its_line_names_the_line_it_moved_to(
    chunk_lines: int, start: int, end: int, text: str
) -> None:
    """ "unterminated f-string literal (detected at line 5)" kept from the last version names
    its new line when lines come or go above it (it named the old one; found by fuzzing)."""
    source = '"""D."""\nx = 1\n\n\nf"# x\n# y"\nz = 2\n'
    with patch.object(forest, "CHUNK_LINES", chunk_lines):
        doc, checker, before = _opened(source)
        assert [f.message for f in before if f.code == "E999"] == [
            "SyntaxError: unterminated f-string literal (detected at line 5)"
        ]
        doc.replace(start, end, text)
        found = checker.check(doc.source, doc.tree, doc.changes)
        fresh = check_source(doc.source, "/tmp/m.py", checker.settings, doc.tree, tolerant=True)
    assert shape(found) == shape(fresh)
    line = 5 + text.count("\n") - source[start:end].count("\n")
    assert f"(detected at line {line})" in next(f for f in found if f.code == "E999").message
