"""Where the rules of ``drain_ls.analysis.legacy`` look: their candidates, each a kind (the
index of its rule), a start and an end, found in the source's bytes before the tree decides.

``native_candidates`` asks ``drain_ls._native.legacy_candidates``, which finds them all in one
pass; ``python_candidates`` finds the same with a regular expression per rule, for an install
without the C module (``tests/test_native.py`` holds the two to the same candidates).
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Iterator

from drain_ls.analysis.native import NATIVE as _native

_END_OF_WORD = rb"(?![\w\x80-\xff])"
# Statements that begin a line, one pattern for all (one search, one attempt per line):
# what follows the keyword makes it a candidate; the tree decides.
_LINE_START = (
    rb"[ \t\f]*+(?:"
    rb"(?P<print>print)" + _END_OF_WORD + rb"(?![ \t\f]*[(=.,)\]}:;\r\n#])"
    rb"|(?P<exec>exec)" + _END_OF_WORD + rb"(?![ \t\f]*[(=.,)\]}:;\r\n#])"
    rb"|(?P<nonlocal>nonlocal)" + _END_OF_WORD + rb"|(?P<try>try)(?=[ \t\f]*:)"
    rb"|(?P<raise>raise)" + _END_OF_WORD + rb"(?=[^\r\n;]*,)"
    rb"|(?P<except>except)" + _END_OF_WORD + rb"(?=[^:\r\n]*,[^:\r\n]*\bas\b)"
    # A tuple as the first parameter (``def f((a, b), c)``: Python 2).
    rb"|(?P<def>def[ \t\f]+[\w\x80-\xff]+[ \t\f]*\([ \t\f]*\()"
    rb"|(?P<del>del)" + _END_OF_WORD + rb"(?=[^\r\n;]*__debug__)"
    rb"|(?P<debug>__debug__)"
    + _END_OF_WORD
    # An import, ``assert`` or ``global`` line that ends before its statement does.
    + rb"|(?P<split>(?:from[ \t\f]+[\w.\x80-\xff]+(?:[ \t\f]+import)?"
    rb"|(?:import|from|assert|global)(?![\w\x80-\xff])[^\r\n(#\\'\";]*,)"
    rb"[ \t\f]*+(?:#[^\r\n]*+)?(?=\r?\n))"
    rb")"
)
# Everything else, each found as cheaply as its marker allows (a pattern starting with a
# literal, so the search skips to it; or ``bytes.find`` for a single rare byte).
_OCTAL = rb"0(?<![\w\x80-\xff.]0)[0-9_]*[1-9][0-9_]*(?![\w\x80-\xff.])"
# Python 2 longs ending in a digit and ``L`` (``0xffL`` and a lowercase ``l``, rarer and
# costlier to look for, are not).
_LONG = rb"L(?<=[0-9]L)" + _END_OF_WORD
_NOT_EQUAL = rb"<>"
_WALRUS = rb":="
_AS = rb"as" + _END_OF_WORD + rb"(?<![\w\x80-\xff.]as)"
# An operator ending its line (no backslash after it): the candidates of ``_continued_line``.
# Two patterns, each starting with what it looks for (one pattern with a look-behind first
# tried it at every byte: 31 ms per MB of the standard library, against 13 for these two).
_OPERATOR_EOL = rb"[-+*/%&|^<>=!@.~](?=[ \t\f]*+(?:#[^\r\n]*+)?\r?\n)"
# A keyword operator; whether it is a word of its own is checked after (``_keyword_eol``).
# A pattern each, so that each search skips to its literal (one pattern starting with the
# alternation tried it at every byte: 14.6 ms per MB of the standard library, against 7.5).
_KEYWORD_EOLS = tuple(
    keyword + rb"(?=[ \t\f]*+(?:#[^\r\n]*+)?\r?\n)"
    for keyword in (b"and", b"or", b"not", b"in", b"is")
)
# ``async`` and ``await`` as words of their own, unless followed as the keywords are:
# ``async`` by ``def``, ``with`` or ``for``, ``await`` by an operand.
_KEYWORD_NAME = (
    rb"a(?<![\w\x80-\xff]a)(?:sync(?![ \t\f]++(?:def|with|for)(?![\w\x80-\xff]))"
    rb"|wait(?![ \t\f]*+[\w\x80-\xff(\[{'\"~+-]))(?![\w\x80-\xff])"
)
# ``ur'...'`` (Python 2); other invalid prefixes (``bf''``) are not looked for.
_UR = rb"r['\"](?<=[uU]r.)(?<![\w\x80-\xff][uU]r.)"


# The kinds of candidates, in this order: the line-start rules, the rules found by a
# pattern, then those found by a byte (``_native.legacy_candidates`` numbers them alike).
LINE_RULES = (
    "print",
    "exec",
    "nonlocal",
    "try",
    "raise",
    "except",
    "def",
    "del",
    "debug",
    "split",
)


@functools.cache
def _patterns() -> tuple[
    re.Pattern[bytes],
    re.Pattern[bytes],
    tuple[tuple[re.Pattern[bytes], ...], ...],
    re.Pattern[bytes],
]:
    """The patterns of ``python_candidates``, compiled on first use (``_native`` needs
    none): the line starts after a line break, the first line, each rule's, and the
    keywords read as names (a kind after those found by a byte)."""
    rules = (
        (_OCTAL,),
        (_LONG,),
        (_NOT_EQUAL,),
        (_WALRUS,),
        (_OPERATOR_EOL,),
        _KEYWORD_EOLS,
        (_AS,),
        (_UR,),
    )
    return (
        re.compile(rb"\n" + _LINE_START),
        re.compile(_LINE_START),
        tuple(tuple(re.compile(p) for p in sources) for sources in rules),
        re.compile(_KEYWORD_NAME),
    )


def python_candidates(
    source: bytes, begin: int, end: int, at_line_start: bool
) -> Iterator[tuple[int, int, int]]:
    """Where the rules look in ``source[begin:end]``: (kind, start, end), each found by a
    regular expression, one at a time. For an install without ``drain_ls._native`` (whose
    ``legacy_candidates`` finds the same in one pass), and the reference it is tested
    against."""
    line_starts, first_line, rules, keyword_name = _patterns()
    first = first_line.match(source, begin, end) if at_line_start else None
    matches = line_starts.finditer(source, begin, end)
    for match in itertools.chain((first,) if first else (), matches):
        name = match.lastgroup
        if name is not None:
            start, stop = match.span(name)
            if name == "def":
                start = stop - 1
            yield LINE_RULES.index(name), start, stop
    kind = len(LINE_RULES)
    for patterns in rules:
        for pattern in patterns:
            for match in pattern.finditer(source, begin, end):
                yield kind, *match.span()
        kind += 1
    for byte in (b"`", b"!"):
        at = source.find(byte, begin, end)
        while at >= 0:
            yield kind, at, at + 1
            at = source.find(byte, at + 1, end)
        kind += 1
    for match in keyword_name.finditer(source, begin, end):
        yield kind, *match.span()


# ``_native.legacy_candidates`` is asked for this many bytes at a time: a file made of
# candidates (a megabyte of ``!``) never becomes one huge list.
NATIVE_SLICE = 1 << 16


def native_candidates(
    source: bytes, begin: int, end: int, at_line_start: bool
) -> Iterator[tuple[int, int, int]]:
    """``python_candidates``, found by ``_native.legacy_candidates`` a slice at a time."""
    assert _native is not None
    for start in range(begin, end, NATIVE_SLICE):
        found: list[tuple[int, int, int]] = _native.legacy_candidates(
            source, begin, end, at_line_start, start, start + NATIVE_SLICE
        )
        yield from found


def candidates(
    source: bytes, begin: int, end: int, at_line_start: bool
) -> Iterator[tuple[int, int, int]]:
    """Where the rules look in ``source[begin:end]``: by the C module when it was built."""
    if _native is not None:
        return native_candidates(source, begin, end, at_line_start)
    return python_candidates(source, begin, end, at_line_start)
