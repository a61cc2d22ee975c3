"""Issue 18 item 6 and the corpus agreement of item 7: a BOM, NFKC-normalised names, ``match``
with a starred subject, ``@override`` on functions, and the constructs the package corpus showed
(``# noqa`` forms, ``__all__`` forms, submodule imports beside an alias, deferred annotations).

The fixtures under ``tests/fixtures`` pin each construct against ruff's output; these tests pin
what a snapshot cannot: the server's path, fixes, columns and edits.
"""

from __future__ import annotations

import pytest

from drain_ls.analysis.checker import CheckSettings, check_source
from drain_ls.analysis.imports import (
    find_unused_imports,
    import_bindings_by_name,
    unused_bindings_of,
)
from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.model import Finding
from drain_ls.analysis.noqa import NoqaMap, add_noqa_edit, inline_directive
from drain_ls.analysis.source import LineIndex, nfkc_occurrences, parse, word_occurrences
from drain_ls.lsp.documents import Document

BOM = b"\xef\xbb\xbf"


def _codes(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.code, str(f.data.get("qualified", ""))) for f in findings]


def _server(source: bytes, path: str = "/tmp/project/mod.py") -> list[Finding]:
    document = Document("file:///tmp/project/mod.py", source)
    checker = IncrementalChecker(path, CheckSettings())
    return checker.check(document.source, document.tree, document.changes)


def _apply(source: bytes, finding: Finding) -> bytes:
    fix = finding.resolved_fix()
    assert fix is not None
    for edit in sorted(fix.edits, key=lambda e: -e.start):
        source = source[: edit.start] + edit.text.encode() + source[edit.end :]
    return source


# -- BOM ---------------------------------------------------------------------------------------


def test_an_import_after_a_bom_is_found_where_the_tree_has_an_error() -> None:
    # With an error in the tree the imports are found by their keyword: the BOM's bytes (all
    # above 0x7f) read as part of the first word hid ``import`` on the first line.
    source = BOM + b"import os\nx = (\n"
    assert ("F401", "os") in _codes(check_source(source, "mod.py", tolerant=True))
    assert ("F401", "os") in _codes(_server(source))


def test_a_use_right_after_a_bom_counts() -> None:
    source = BOM + b"os.getcwd()\n"
    assert word_occurrences(source, b"os") == [(3, 5)]
    source = BOM + b'"""Doc."""\nimport os\n\n\ndef f():\n    """Doc."""\n    return os\n'
    assert check_source(source, "mod.py") == []
    assert _server(source) == []


def test_the_columns_of_the_first_line_do_not_count_the_bom() -> None:
    source = BOM + b"import os\nimport sys\n"
    index = LineIndex(source)
    found = {
        f.data["name"]: index.char_position(f.start)
        for f in check_source(source, "m.py")
        if f.code == "F401"
    }
    assert found == {"os": (0, 7), "sys": (1, 7)}  # as ruff reports them: 1:8 and 2:8


@pytest.mark.parametrize(
    ("source", "fixed"),
    [
        (BOM + b"import os\nimport sys\nsys\n", BOM + b"import sys\nsys\n"),
        (BOM + b"import os;import sys\nsys\n", BOM + b"import sys\nsys\n"),
        (BOM + b"import os\r\nimport sys\r\nsys\n", BOM + b"import sys\r\nsys\n"),
        (BOM + b"import os, sys\nsys\n", BOM + b"import sys\nsys\n"),
    ],
)
def test_removing_an_import_on_the_first_line_keeps_the_bom(source: bytes, fixed: bytes) -> None:
    (finding,) = [f for f in check_source(source, "mod.py") if f.code == "F401"]
    assert _apply(source, finding) == fixed


def test_the_module_docstring_goes_after_the_bom() -> None:
    source = BOM + b"x = 1\n"
    (finding,) = check_source(source, "mod.py")
    assert finding.code == "D100"
    assert _apply(source, finding).startswith(BOM + b'"""')


# -- NFKC --------------------------------------------------------------------------------------


def test_other_spellings_of_a_name_are_found_only_in_a_source_that_is_not_ascii() -> None:
    source = "import file\nprint(\ufb01le, \uff46\uff49\uff4c\uff45, file)\n".encode()
    assert nfkc_occurrences(source, {"file"}) == {"file": [(18, 23), (25, 37)]}
    assert nfkc_occurrences(b"import file\nfile\n", {"file"}) == {}


def test_an_import_used_under_another_spelling_is_used() -> None:
    source = "import file\nfrom m import H\nprint(\ufb01le, \u210c)\n".encode()
    assert [f for f in check_source(source, "mod.py") if f.code == "F401"] == []
    assert [f for f in _server(source) if f.code == "F401"] == []


def test_a_binding_spelled_otherwise_is_the_normalised_name() -> None:
    source = "import \ufb01le\nprint(file)\nimport \u210c\n".encode()
    assert _codes([f for f in check_source(source, "mod.py") if f.code == "F401"]) == [
        ("F401", "H")
    ]


def test_many_imports_and_another_spelling() -> None:
    # The path for thousands of names counts words: the other spelling must not be missed.
    names = [f"name{i}" for i in range(3000)]
    source = ("".join(f"import {n}\n" for n in names) + "import file\nprint(\ufb01le)\n").encode()
    unused = {f.data["name"] for f in check_source(source, "mod.py") if f.code == "F401"}
    assert "file" not in unused
    assert len(unused) == len(names)


# -- match with a starred subject ----------------------------------------------------------------

MATCH = b'''"""Doc."""
import os
import json


def g(a, b):
    """Doc."""
    match *a, b:
        case [x, y]:
            os.getcwd()
        case _:
            pass


match *g, h:
    case [x]:
        import json

        def top():
            pass
    case _:
        pass
'''


def test_the_first_case_of_a_starred_match_subject_is_walked() -> None:
    expected = [("D103", ""), ("F401", "json")]
    fresh = sorted(_codes(check_source(MATCH, "/tmp/project/mod.py")))
    assert fresh == expected
    assert sorted(_codes(_server(MATCH))) == expected


def test_the_first_case_of_a_starred_match_subject_is_walked_in_chunks() -> None:
    filler = b"".join(b"def f%d():\n    '''D.'''\n\n\n" % i for i in range(150))
    source = MATCH + filler
    document = Document("file:///tmp/project/mod.py", source)
    document.tree.settle()
    assert len(document.tree.trees) > 1
    checker = IncrementalChecker("/tmp/project/mod.py", CheckSettings())
    found = checker.check(document.source, document.tree, document.changes)
    assert sorted(_codes(found)) == [("D103", ""), ("F401", "json")]


# -- @override -----------------------------------------------------------------------------------


def test_override_exempts_a_method_but_not_a_function() -> None:
    source = b'''"""Doc."""
from typing import override


@override
def f():
    pass


class C:
    """Doc."""

    @override
    def m(self):
        pass
'''
    found = check_source(source, "/tmp/project/mod.py")
    assert [(f.code, f.data["qualname"]) for f in found] == [("D103", "f")]
    assert [(f.code, f.data["qualname"]) for f in _server(source)] == [("D103", "f")]


def test_switching_a_decorator_between_overload_and_override_is_seen_incrementally() -> None:
    before = b'"""Doc."""\nfrom typing import overload as x\n\n\n@x\ndef f():\n    pass\n'
    after = before.replace(b"overload as x", b"override as x")
    document = Document("file:///tmp/project/mod.py", before)
    checker = IncrementalChecker("/tmp/project/mod.py", CheckSettings())
    assert checker.check(document.source, document.tree, document.changes) == []
    start = before.index(b"overload")
    document.replace(start, start + len(b"overload"), "override")
    assert document.source == after
    found = checker.check(document.source, document.tree, document.changes)
    assert [f.code for f in found] == ["D103"]


# -- noqa comments ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "codes"),
    [
        (b"# noqa", {"*"}),
        (b"#NOQA", {"*"}),
        (b"# noqa: F401,D100", {"F401", "D100"}),
        (b"# noqa : F401", {"F401"}),
        (b"# noqa: F401D100", {"F401", "D100"}),
        (b"# noqa: F401 because", {"F401"}),
        (b"# type: ignore # noqa:F401", {"F401"}),
        (b"# noqa(F401)", {"!"}),
        (b"#noqaF401", {"!"}),
        (b"# noqa: unused", {"!"}),
        (b"# noqa: f401", {"!"}),
        (b"# noqa: F401.", {"!"}),
        (b"# noqa: F401F", {"!"}),
        (b"# noqa:", {"!"}),
    ],
)
def test_a_noqa_directive_is_lexed_as_ruff_lexes_it(comment: bytes, codes: set[str]) -> None:
    directive = inline_directive(comment)
    assert directive is not None
    assert directive[0] == codes


def test_no_noqa_directive() -> None:
    assert inline_directive(b"# a comment about noqa") is None


@pytest.mark.parametrize(
    ("line", "result"),
    [
        (b"import os  # noqa: E501\n", b"import os  # noqa: E501, F401\n"),
        (b"import os  # noqa: E501 why\n", b"import os  # noqa: E501, F401 why\n"),
        (b"import os  # noqa(E501)\n", b"import os  # noqa: F401 # noqa(E501)\n"),
        (b"import os\n", b"import os  # noqa: F401\n"),
        (b"import os  # noqa\n", None),
    ],
)
def test_adding_a_code_to_a_noqa_comment(line: bytes, result: bytes | None) -> None:
    edit = add_noqa_edit(line, LineIndex(line), 0, "F401")
    if result is None:
        assert edit is None
        return
    assert edit is not None
    fixed = line[: edit.start] + edit.text.encode() + line[edit.end :]
    assert fixed == result
    assert check_source(fixed, "mod.py", CheckSettings(select=frozenset({"F401"}))) == []


# -- incremental == fresh for the new resolution rules ---------------------------------------------

EDITS = [
    # (source, (start text, old text, new text))
    (
        b'"""D."""\nfrom __future__ import annotations\n\nx: Later = 1\n\nfrom m import Later\n',
        ("x: Later", "x: Later", "x: int"),
    ),
    (
        b'"""D."""\nimport xml as x\nimport xml.dom\n\nprint(x)\n',
        ("print(x)", "print(x)", "print(1)"),
    ),
    (
        b'"""D."""\nfrom m import a\n__all__ = ["b"]\n',
        ('["b"]', '["b"]', 'list({"a"})'),
    ),
    (
        b'"""D."""\nimport os  # noqa: F401\n',
        ("# noqa: F401", "# noqa: F401", "# noqa(F401)"),
    ),
]


@pytest.mark.parametrize(("source", "edit"), EDITS)
def test_incremental_analysis_equals_fresh_analysis(
    source: bytes, edit: tuple[str, str, str]
) -> None:
    path = "/tmp/project/mod.py"
    document = Document("file:///tmp/project/mod.py", source)
    checker = IncrementalChecker(path, CheckSettings())
    checker.check(document.source, document.tree, document.changes)
    at, old, new = edit
    start = source.index(at.encode())
    document.replace(start, start + len(old.encode()), new)
    incremental = checker.check(document.source, document.tree, document.changes)
    fresh = check_source(document.source, path, CheckSettings())
    assert _codes(incremental) == _codes(fresh)


def test_with_the_tree_a_comment_after_a_string_that_closes_on_its_line_is_found() -> None:
    source = b'x = """\nabc\n"""; import json  # noqa\nimport os  # noqa\ns = "# noqa"; import re\n'
    tree = parse(source)
    index = LineIndex(source)
    with_tree = NoqaMap(source, index, tree.root_node)
    assert with_tree.codes_on_row(2) == {"*"}
    assert with_tree.codes_on_row(3) == {"*"}
    assert with_tree.codes_on_row(4) is None
    # Without the tree, quotes are counted on the line: the string that closes misleads it.
    assert NoqaMap(source, index).codes_on_row(2) is None


def test_with_the_tree_a_file_directive_inside_a_string_is_no_directive() -> None:
    source = b'"""Doc.\n# ruff: noqa\n"""\nimport os\n'
    tree = parse(source)
    (finding,) = find_unused_imports(tree, source, "m.py")  # before any noqa
    assert not NoqaMap(source, LineIndex(source), tree.root_node).silences(finding)
    assert NoqaMap(source, LineIndex(source)).silences(finding)  # without the tree: fooled


def test_annotations_are_deferred_for_a_target_that_defers_them() -> None:
    # ruff --target-version py314 (PEP 649): `Later` is used; with py310 (ruff's default), not.
    source = b'"""D."""\nx: Later = 1\n\nfrom m import Later\n'
    root = parse(source).root_node
    by_name = import_bindings_by_name(root, source)
    assert unused_bindings_of(root, source, by_name)["Later"]
    assert not unused_bindings_of(root, source, by_name, defer_annotations=True)["Later"]


@pytest.mark.parametrize(("target", "unused"), [("py310", True), ("py313", True), ("py314", False)])
def test_the_checks_defer_annotations_from_a_py314_target(target: str, unused: bool) -> None:
    """As ruff 0.17.6 with ``--target-version``: a forward reference in an annotation uses
    an import made after it only at py314 (PEP 649), in the CLI's check and the editor's."""
    from drain_ls.analysis.versions import parse_target_version

    source = b'"""D."""\n\n\ndef f(x: Later):\n    """F."""\n\n\nfrom m import Later\n'
    settings = CheckSettings(target_version=parse_target_version(target))
    fresh = [f.code for f in check_source(source, "/tmp/project/mod.py", settings)]
    document = Document("file:///tmp/project/mod.py", source)
    checker = IncrementalChecker("/tmp/project/mod.py", settings)
    edited = [f.code for f in checker.check(document.source, document.tree, document.changes)]
    assert fresh == edited == (["F401"] if unused else [])


def test_the_checks_read_noqa_with_the_tree() -> None:
    """A ``# ruff: noqa`` line inside a docstring silences nothing (ruff reads comments
    from its tokens), in the CLI's check and the editor's."""
    source = b'"""Doc.\n# ruff: noqa\n"""\nimport os\n'
    assert [f.code for f in check_source(source, "/tmp/project/mod.py")] == ["F401"]
    assert [f.code for f in _server(source)] == ["F401"]


def test_typing_another_spelling_of_an_imported_name_uses_it_in_the_editor() -> None:
    """``\ufb01le`` (with the ligature) is ``file`` to Python: typing it makes the import
    used, without waiting for another edit to re-analyse the name."""
    source = b'"""D."""\nfrom m import file\n\nx = 1\n'
    document = Document("file:///tmp/project/mod.py", source)
    checker = IncrementalChecker("/tmp/project/mod.py", CheckSettings())
    first = checker.check(document.source, document.tree, document.changes)
    assert [f.code for f in first] == ["F401"]
    document.changes.reset()
    at = source.index(b"1")
    document.replace(at, at + 1, "\ufb01le")
    again = checker.check(document.source, document.tree, document.changes)
    assert [f.code for f in again] == [] == [f.code for f in check_source(document.source, "m.py")]
