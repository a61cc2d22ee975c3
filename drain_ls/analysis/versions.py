"""The ``target-version`` setting and the syntax newer than it (ruff's "unsupported syntax").

``version_errors`` reports each construct the target Python cannot parse, in ruff 0.17's
words ("Cannot use `match` statement on Python 3.9 (syntax was added in Python 3.10)"), for
the constructs ruff gates (``crates/ruff_python_parser/src/error.rs``) plus a
version-dependent semantic error it reports always (an asynchronous comprehension inside a
synchronous one before 3.11; ``del __debug__`` from 3.9 is ``drain_ls.analysis.legacy``'s).
As in ruff these are reported whatever the selection, and they do not hide the other
findings of the file: the tree is fine, the target is too old.

Two choices differ from ruff 0.17.6, which follows CPython less closely: a default of a
TypeVarTuple or a ParamSpec (``*Ts = ...``, ``**P = ...``) is reported below 3.13 like any
other (ruff reports only a TypeVar's); ``match`` followed by ``(``, ``[``, ``*``, ``+`` or
``-`` is not reported below 3.10, as ruff does not (CPython rejects it).

Cost: nothing at the newest target (nothing is newer). Below it, each rule in force finds its
candidates with a regular expression over the source (a keyword, an operator, a string
prefix), looks each one up in the tree (``descendant_for_byte_range``) and checks its shape:
linear in the source, and proportional to the candidates, not to the nodes of the tree.

The checks of the rules, one per construct, are ``drain_ls.analysis.version_rules``'s; this
module holds the setting, the table of rules and the entry points.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from tree_sitter import Node

from drain_ls.analysis.grammar_gaps import TreeErrors, tree_errors
from drain_ls.analysis.targets import DEFAULT_TARGET as DEFAULT_TARGET
from drain_ls.analysis.targets import TARGET_NAMES as TARGET_NAMES
from drain_ls.analysis.targets import PythonVersion as PythonVersion
from drain_ls.analysis.targets import parse_target_version as parse_target_version
from drain_ls.analysis.targets import resolve_target as resolve_target
from drain_ls.analysis.targets import target_from_requires_python as target_from_requires_python
from drain_ls.analysis.version_rules import (
    _async_comprehension,
    _except_star,
    _except_types,
    _fstring,
    _match,
    _message,
    _parenthesized_with,
    _positional_only,
    _relaxed_decorator,
    _star_annotation,
    _star_index,
    _star_tuple,
    _tstring,
    _type_alias,
    _type_parameters,
    _unpack_in_for,
    _unparenthesized_walrus,
    _walrus,
)

VersionError = tuple[int, int, str]


# -- Rules --------------------------------------------------------------------------------
# Each rule: the version it was added in, a regular expression finding its candidates, and a
# check of the node at a candidate yielding (start, end, message).

Check = Callable[[Node, Node, bytes, PythonVersion, re.Match[bytes]], Iterator[VersionError]]


def _at(root: Node, start: int, end: int) -> Node | None:
    return root.descendant_for_byte_range(start, end)


def _token(root: Node, match: re.Match[bytes], group: int = 0) -> Node | None:
    """The leaf at a candidate, if it is exactly the candidate's text (a keyword, an
    operator): a word inside a string or a comment gives a string or comment node instead."""
    start, end = match.span(group)
    node = _at(root, start, end)
    if node is None or node.start_byte != start or node.end_byte != end:
        return None
    return node


_MAX_NESTING = 150  # CPython's MAXFSTRINGLEVEL


def _word(word: bytes) -> bytes:
    """A keyword as a pattern that starts with its first letter (so the search skips to it
    quickly) and is not part of a longer name or an attribute."""
    return word + rb"(?<![\w\x80-\xff.]" + word + rb")(?![\w\x80-\xff])"


def _prefixed(letter: bytes) -> list[bytes]:
    """Patterns for the strings whose prefix holds ``letter`` (``f`` or ``t``, either case,
    maybe with an ``r`` before or after): each starts with the letter (the search skips to
    it) and then the quote (most occurrences of the letter fail there, at once)."""
    patterns = []
    for c in (letter.lower(), letter.upper()):
        patterns.append(
            c
            + rb"['\"](?:(?<![\w\x80-\xff]"
            + c
            + rb".)|(?<=[^\w\x80-\xff][rR]"
            + c
            + rb".)|(?<=\A[rR]"
            + c
            + rb".))"
        )
        patterns.append(c + rb"[rR]['\"](?<![\w\x80-\xff]" + c + rb"..)")
    return patterns


# (added in Python 3.x; the candidates; the check). Every pattern starts with a literal
# character: the search jumps between candidates.
_RULES: list[tuple[int, re.Pattern[bytes], Check]] = [
    (8, re.compile(rb":="), _walrus),
    (8, re.compile(rb"/"), _positional_only),
    (8, re.compile(_word(b"return")), _star_tuple),
    (8, re.compile(_word(b"yield")), _star_tuple),
    (9, re.compile(rb"@"), _relaxed_decorator),
    (9, re.compile(_word(b"with") + rb"(?=[ \t\f]*\()"), _parenthesized_with),
    (9, re.compile(_word(b"for") + rb"(?=[^:\r\n]{0,1000}\*)"), _unpack_in_for),
    (9, re.compile(rb":="), _unparenthesized_walrus),
    (10, re.compile(_word(b"match")), _match),
    (11, re.compile(_word(b"except") + rb"(?=[ \t\f]*\*)"), _except_star),
    (11, re.compile(rb"[\[,][ \t\f\r\n]*(\*)(?!\*)"), _star_index),
    (11, re.compile(rb":[ \t\f]*(\*)(?!\*)"), _star_annotation),
    (11, re.compile(_word(b"async") + rb"(?=[ \t\f\\\r\n]+for\b)"), _async_comprehension),
    (12, re.compile(_word(b"def") + rb"(?=[ \t\f\\]+[\w\x80-\xff]+[ \t\f]*\[)"), _type_parameters),
    (
        12,
        re.compile(_word(b"class") + rb"(?=[ \t\f\\]+[\w\x80-\xff]+[ \t\f]*\[)"),
        _type_parameters,
    ),
    (12, re.compile(_word(b"type") + rb"(?=[ \t\f\\]+[A-Za-z_\x80-\xff])"), _type_alias),
    *[(12, re.compile(p), _fstring) for p in _prefixed(b"f")],
    (14, re.compile(_word(b"except") + rb"(?=[^:\r\n]{0,1000},)"), _except_types),
    *[(14, re.compile(p), _tstring) for p in _prefixed(b"t")],
]
_QUOTED = (_fstring, _tstring)


def version_errors(
    root: Node,
    source: bytes,
    target: PythonVersion = DEFAULT_TARGET,
    errors: TreeErrors | None = None,
) -> list[VersionError]:
    """Each construct of ``source`` that ``target`` cannot parse: (start, end, message) in
    ruff's words, sorted by position, one per construct as ruff reports them.

    ``root`` is the module node of the tree of ``source`` (or a chunk's root: the rules only
    look at the nodes under it). ``errors`` is ``tree_errors(root, source)`` if already
    computed (the accepted PEP 696 defaults and the ``type`` statements tree-sitter could not
    parse are reported from it)."""
    found = set(construct_errors(root, source, target))
    found.update(gap_errors(target, errors if errors is not None else tree_errors(root, source)))
    return sorted(found)


def construct_errors(
    root: Node,
    source: bytes,
    target: PythonVersion = DEFAULT_TARGET,
    begin: int | None = None,
    end: int | None = None,
) -> list[VersionError]:
    """``version_errors`` but those of the grammar's gaps (``gap_errors``), found by the
    rules in ``[begin, end)`` of ``root`` only (default: all of it). Each depends on its
    module-level statement alone: an editor checks the statements an edit touched."""
    found: set[VersionError] = set()
    if target >= DEFAULT_TARGET:
        return []
    begin = root.start_byte if begin is None else max(begin, root.start_byte)
    end = root.end_byte if end is None else min(end, root.end_byte)
    fstrings: list[tuple[Node, re.Match[bytes]]] = []
    for version, pattern, check in _RULES:
        if target >= version:
            continue
        group = 1 if pattern.groups else 0
        quoted = check in _QUOTED
        for match in pattern.finditer(source, begin, end):
            node = _at(root, match.start(), match.end()) if quoted else _token(root, match, group)
            if node is None:
                continue
            if check is _fstring:
                fstrings.append((node, match))
            else:
                found.update(check(root, node, source, target, match))
    # F-strings nested more than CPython allows are skipped: each is checked over all the
    # text of its fields, nested ones included (as ruff does), which would cost the square
    # of the depth. The depth comes from the order of the strings, not from ``Node.parent``
    # (which walks down from the root each time).
    fstrings.sort(key=lambda item: item[0].start_byte)
    open_ends: list[int] = []
    for node, match in fstrings:
        while open_ends and open_ends[-1] <= node.start_byte:
            open_ends.pop()
        if len(open_ends) <= _MAX_NESTING:
            found.update(_fstring(root, node, source, target, match))
        string = node.parent
        open_ends.append(string.end_byte if string is not None else node.end_byte)
    return sorted(found)


def gap_errors(target: PythonVersion, gaps: TreeErrors) -> list[VersionError]:
    """The version errors of what ``tree_errors`` accepted where the grammar has gaps: PEP
    696 defaults (Python 3.13) and ``type`` statements tree-sitter could not parse (3.12)."""
    found: list[VersionError] = []
    if target < PythonVersion.PY313:
        message = _message("Cannot set default type for a type parameter", target, 13)
        found.extend((start, stop, message) for start, stop in gaps.type_param_defaults)
    if target < PythonVersion.PY312:
        message = _message("Cannot use `type` alias statement", target, 12)
        found.extend((start, stop, message) for start, stop in gaps.type_statements)
    return found
