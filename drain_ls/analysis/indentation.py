"""Indentation errors, decided as CPython's tokenizer and parser decide them.

tree-sitter-python opens and closes blocks without ever rejecting an indentation: a dedent
to no enclosing level, tabs and spaces mixed inconsistently, an unexpected indent and a
missing block (``if x:`` followed by a line at the same level) all give a clean tree. This
module applies CPython's rule (``Parser/lexer/lexer.c``, ``tok_get_normal_mode``) to the
starts of the logical lines, without the running interpreter:

- at the start of each logical line outside brackets and strings, skipping blank and
  comment-only lines, the indentation is measured twice: ``col`` with a tab going to the next
  multiple of 8, ``altcol`` with a tab counting 1; a form feed resets both; an indentation
  may go on past backslash-joined line breaks, and then counts up to its first backslash not
  at column 0 (for both), and a line it joins to an empty or comment line is blank;
- the same ``col`` as the enclosing level with another ``altcol`` is a ``TabError``; a deeper
  ``col`` whose ``altcol`` is not deeper is a ``TabError``; a shallower ``col`` pops the levels
  above it and must land on one (``unindent does not match any outer indentation level``),
  with the same ``altcol`` (``TabError``);
- an indent where no block opens is an ``unexpected indent``; a line ending in ``:`` (a block
  header) followed by no indent is ``expected an indented block``; such a line that does not
  begin with a compound statement's keyword is ``invalid syntax`` (tree-sitter reads
  ``C:`` followed by an indented line as an annotation whose type is on that line).

Cost: the rule runs in C (``drain_ls._native``, about 3 ms per MB) when that module was built.
Without it (no C compiler at install time) the same rule runs in Python: one regular
expression consumes whole runs of logical lines at one indentation (strings, comments,
continuation lines and brackets nested ``_GROUP_DEPTH`` deep), and the Python loop runs once
per run, not per line or character; a line it cannot read (deeper brackets, a PEP 701
f-string spanning lines, lone CR line ends, many blanks before a comment) goes through a small
exact tokenizer, one logical line at a time (28 ms per MB of the standard library in all,
before lines with f-strings went to the tokenizer too).
Both read a quote as CPython's tokenizer does: it always opens a string, whose prefix is the
word before it if that word is 1 to 3 prefix letters. ``tests/test_native.py`` holds them to
the same answers.

The rule restarts cleanly at any module-level statement that starts a line (the stack is then
``[0]``), so ``indentation_error`` takes a range: an editor can check only the chunks of a
document an edit touched (``drain_ls.analysis.forest`` cuts documents at such statements).
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from drain_ls.analysis.native import NATIVE as _native

TAB_SIZE = 8
MAX_INDENT = 100  # CPython's MAXINDENT: "too many levels of indentation"
_BOM = b"\xef\xbb\xbf"


class IndentationProblem(NamedTuple):
    """An indentation error: ``source[start:end]`` is what it points at (may be empty)."""

    start: int
    end: int
    message: str
    error_class: str  # "IndentationError" or "TabError", as CPython raises it


# -- The fast path -------------------------------------------------------------------------

# A quote opens a triple-quoted or a single-quoted string; an escape skips one character (raw
# or not: an escaped quote never ends a string). A string's prefix is read as plain code.
_STRING_1 = (
    rb"'(?:''[^'\\]*+(?:(?:\\[\s\S]|'(?!''))[^'\\]*+)*+'''"
    rb"|[^'\\\r\n]*+(?:\\(?:\r\n|[\s\S])[^'\\\r\n]*+)*+')"
)
_STRING_2 = _STRING_1.replace(b"'", b'"')
_STRING = _STRING_1 + b"|" + _STRING_2
# The fast path reads no f-string (or t-string): since PEP 701 a quote inside one's
# replacement field may be its own (``f'{'{'}'``), which the patterns above would read as
# the string's end. A line holding one goes through the exact tokenizer.
_FAST_STRING = rb"(?<![fFtT])(?<![fFtT][rR])(?:" + _STRING + rb")"
# Code outside brackets (one physical line) and inside them (line breaks included).
_PLAIN = rb"[^'\"#\\()\[\]{}\r\n]*+"
_PLAIN_INSIDE = rb"[^'\"#\\()\[\]{}]*+"
_GROUP_DEPTH = 8


def _group(depth: int) -> bytes:
    """Brackets nested ``depth`` deep at most, holding strings, comments and line breaks."""
    inner = _FAST_STRING + rb"|#[^\r\n]*+|\\\r?\n"
    if depth:
        inner += rb"|" + _group(depth - 1)
    return rb"[(\[{]" + _PLAIN_INSIDE + rb"(?:(?:" + inner + rb")" + _PLAIN_INSIDE + rb")*+[)\]}]"


# One logical line's code up to its comment, continuation lines included.
_CODE = (
    _PLAIN
    + rb"(?:(?:"
    + _group(_GROUP_DEPTH)
    + rb"|"
    + _FAST_STRING
    + rb"|\\\r?\n)"
    + _PLAIN
    + rb")*+"
)
# Whether the code's last significant character (before at most 3 blanks) is a colon. A line
# with more blanks before its comment matches neither: the slow path reads it.
_BODY = rb"(?:(?<![:\s])|(?<=[^:\s][ \t\f])|(?<=[^:\s][ \t\f]{2})|(?<=[^:\s][ \t\f]{3}))"
_HEAD = rb"(?:(?<=:)|(?<=:[ \t\f])|(?<=:[ \t\f]{2})|(?<=:[ \t\f]{3}))"
_END = rb"(?:#[^\r\n]*+)?\r?\n"
# A blank or comment line; its blanks may go on past backslash-joined line breaks (CPython's
# tokenizer reads `` \\``, a line break and an empty line as one blank line).
_BLANK = rb"(?:[ \t\f]|\\\r?\n|\\\r)*+(?:#[^\r\n]*+)?\r?\n"
_CODE_START = rb"(?=[^\s#\\])"
# A run: logical lines at one indentation (``ind``), with the blank and comment lines among
# and after them, none a block header but perhaps the last (its start: ``head``/``head0``).
_RUN_PATTERN = (
    rb"(?P<ind>[ \t\f]*+)"
    + _CODE_START
    + rb"(?:"
    + (_CODE + _BODY + _END)
    + rb"(?:(?P=ind)"
    + (_CODE_START + _CODE + _BODY + _END)
    + rb"|"
    + _BLANK
    + rb")*+(?:(?P<head>(?P=ind))"
    + (_CODE_START + _CODE + _HEAD + _END)
    + rb")?|(?P<head0>)"
    + (_CODE + _HEAD + _END)
    + rb")(?:"
    + _BLANK
    + rb")*+"
)


@functools.cache
def _run() -> re.Pattern[bytes]:
    """``_RUN_PATTERN`` compiled: 14-27 ms, paid by the first check of a process, not by its
    start (a warm ``drain-ls check`` reads every result from its cache)."""
    return re.compile(_RUN_PATTERN)


def compile_patterns() -> None:
    """Compile what the first check would: for a process about to fork its workers (the C
    rule needs no pattern: then nothing, 44 ms saved)."""
    if _native is None:
        _run()


_BLANKS = re.compile(rb"(?:" + _BLANK + rb")*+")


# -- The exact, slow path: one logical line ----------------------------------------------

# A quote always opens a string; the word before it is its prefix if it is 1 to 3 prefix
# letters (``rb"``), else a name of its own (``else"#"``: a name, then a string).
_QUOTE = rb"(?:(?<![\w\x80-\xff])([rRbBuUfFtT]{1,3}))?(['\"])"
_LINE_TOKEN = re.compile(_QUOTE + rb"|[#()\[\]{}\\\r\n]")
_STRING_AT = re.compile(_STRING)
_FSTRING_STOP = {
    b"'": re.compile(rb"[\\{}'\r\n]"),
    b'"': re.compile(rb'[\\{}"\r\n]'),
    b"'''": re.compile(rb"[\\{}']"),
    b'"""': re.compile(rb'[\\{}"]'),
}
_FEXPR_TOKEN = re.compile(_QUOTE + rb"|[#()\[\]{}:!\\]")
_EOL = re.compile(rb"[\r\n]")


# CPython's MAXFSTRINGLEVEL: deeper nesting is an error (and would exhaust the stack here).
MAX_FSTRING_NESTING = 150


def _string_end(source: bytes, prefix: bytes, at: int, depth: int = 0) -> int:
    """The end of the string whose quote is at ``at`` (after ``prefix``), or -1 if unterminated
    (or nested in ``depth`` f-strings already, past what CPython accepts)."""
    quote = source[at : at + 3]
    if quote not in (b"'''", b'"""'):
        quote = source[at : at + 1]
    lower = prefix.lower()
    if b"f" in lower or b"t" in lower:
        if depth >= MAX_FSTRING_NESTING:
            return -1
        return _fstring_end(source, at + len(quote), quote, b"r" in lower, depth + 1)
    match = _STRING_AT.match(source, at)
    return match.end() if match else -1


def _fstring_end(source: bytes, at: int, quote: bytes, raw: bool, depth: int) -> int:
    """The end of an f-string (or t-string) whose body starts at ``at`` (PEP 701 rules)."""
    stop = _FSTRING_STOP[quote]
    while True:
        match = stop.search(source, at)
        if match is None:
            return -1
        pos = match.start()
        char = source[pos : pos + 1]
        if char == b"\\":
            after = source[pos + 1 : pos + 2]
            if not raw and after == b"N" and source[pos + 2 : pos + 3] == b"{":
                close = source.find(b"}", pos)
                at = pos + 2 if close < 0 else close + 1
            else:
                at = pos + 1 if after in (b"{", b"}") else pos + 2
        elif char == b"{":
            if source[pos + 1 : pos + 2] == b"{":
                at = pos + 2
                continue
            at = _field_end(source, pos + 1, quote, depth)
            if at < 0:
                return -1
        elif char == b"}":
            at = pos + 1
        elif char in b"\r\n":
            return -1  # a line break in a single-quoted string's literal part
        elif source.startswith(quote, pos):
            return pos + len(quote)
        else:
            at = pos + 1


def _field_end(source: bytes, at: int, quote: bytes, depth: int) -> int:
    """The end of a replacement field whose expression starts at ``at``, or -1; ``depth``:
    how many f-strings it is nested in."""
    brackets = 0
    while True:
        match = _FEXPR_TOKEN.search(source, at)
        if match is None:
            return -1
        pos = match.start()
        if match.group(2):
            at = _string_end(source, match.group(1) or b"", match.start(2), depth)
            if at < 0:
                return -1
            continue
        char = source[pos : pos + 1]
        at = pos + 1
        if char == b"#":
            eol = _EOL.search(source, pos)
            at = eol.start() if eol else len(source)
        elif char in b"([{":
            brackets += 1
        elif char in b")]":
            brackets = max(0, brackets - 1)
        elif char == b"}":
            if brackets == 0:
                return pos + 1
            brackets -= 1
        elif char == b":" and brackets == 0:
            return _spec_end(source, pos + 1, quote, depth)
        elif char == b"\\":
            at = pos + 2


def _spec_end(source: bytes, at: int, quote: bytes, depth: int) -> int:
    """The end of a format spec starting at ``at`` (nested fields allowed), or -1."""
    stop = _FSTRING_STOP[quote]
    while True:
        match = stop.search(source, at)
        if match is None:
            return -1
        pos = match.start()
        char = source[pos : pos + 1]
        if char == b"\\":
            at = pos + 2
        elif char == b"{":
            if depth >= MAX_FSTRING_NESTING:
                return -1
            at = _field_end(source, pos + 1, quote, depth + 1)
            if at < 0:
                return -1
        elif char == b"}":
            return pos + 1
        elif char in b"\r\n" or source.startswith(quote, pos):
            return -1
        else:
            at = pos + 1


def _slow_line(source: bytes, code: int) -> tuple[int, int] | None:
    """Read one logical line whose code starts at ``code``: (end of its last significant
    character, end of the line), or None when a string or bracket stays open to the end."""
    depth = 0
    at = code
    last = code
    size = len(source)
    while True:
        match = _LINE_TOKEN.search(source, at)
        if match is None:
            tail = source[at:].rstrip()
            if depth:
                return None
            return (at + len(tail) if tail else last), size
        pos = match.start()
        if source[at:pos].strip():
            last = at + len(source[at:pos].rstrip())
        if match.group(2):
            end = _string_end(source, match.group(1) or b"", match.start(2))
            if end < 0:
                return None
            at = last = end
            continue
        char = source[pos : pos + 1]
        at = pos + 1
        if char == b"#":
            eol = _EOL.search(source, pos)
            at = eol.start() if eol else size
        elif char in b"([{":
            depth += 1
            last = at
        elif char in b")]}":
            depth = max(0, depth - 1)
            last = at
        elif char == b"\\":
            if source.startswith(b"\r\n", at):
                at += 2
            elif source[at : at + 1] in (b"\r", b"\n"):
                at += 1
            else:
                last = at
        elif depth == 0:  # a line break ends the logical line
            if char == b"\r" and source.startswith(b"\n", at):
                at += 1
            return last, at


def logical_line_code_end(source: bytes, start: int) -> int | None:
    """The end of the code (comment and line break excluded) of the logical line whose code
    starts at ``start``, brackets, strings and continuation lines included; None if a string
    or a bracket stays open to the end of ``source``."""
    line = _native.logical_line(source, start) if _native else _slow_line(source, start)
    return None if line is None else line[0]


# -- The rule ------------------------------------------------------------------------------

_HEADERS = {
    b"if": "'if' statement",
    b"elif": "'elif' statement",
    b"else": "'else' statement",
    b"for": "'for' statement",
    b"while": "'while' statement",
    b"try": "'try' statement",
    b"except": "'except' statement",
    b"finally": "'finally' statement",
    b"with": "'with' statement",
    b"def": "function definition",
    b"class": "class definition",
    b"match": "'match' statement",
    b"case": "'case' statement",
}
# The statements whose logical line may end in a colon (a block follows).
_COMPOUND = re.compile(
    rb"(?:if|elif|else|for|while|try|except|finally|with|def|class|async|match|case)"
    rb"(?![\w\x80-\xff])"
)
_FIRST_WORDS = re.compile(rb"(\w+)(?:[ \t\f]+(\w+))?([ \t\f]*\*)?")


def _measure(indent: bytes) -> tuple[int, int]:
    """CPython's (col, altcol) of an indentation string (``Parser/lexer/lexer.c``,
    ``tok_get_normal_mode``). One split by backslash-joined line breaks counts as far as its
    first backslash that is not at column 0, for both (the lexer's ``cont_line_col``, 0
    meaning none); without such a backslash, all of it counts."""
    if not indent.strip(b" "):
        return len(indent), len(indent)
    col = alt = cont = 0
    for char in indent:
        if char == 0x20:
            col += 1
            alt += 1
        elif char == 0x09:
            col = (col // TAB_SIZE + 1) * TAB_SIZE
            alt += 1
        elif char == 0x0C:  # form feed
            col = alt = 0
        elif char == 0x5C and not cont:  # a backslash (else the line break after one)
            cont = col
    return (cont, cont) if cont else (col, alt)


def _line_of(source: bytes, offset: int) -> int:
    return (
        source.count(b"\n", 0, offset)
        + source.count(b"\r", 0, offset)
        - source.count(b"\r\n", 0, offset)
        + 1
    )


def _expected_block(source: bytes, header: int, start: int, end: int) -> IndentationProblem:
    words = _FIRST_WORDS.match(source, header)
    what = None
    if words:
        first = words.group(1)
        if first == b"async" and words.group(2) in (b"def", b"for", b"with"):
            first = words.group(2)
        what = _HEADERS.get(first)
        if first == b"except" and words.group(3) and not words.group(2):
            what = "'except*' statement"
    message = "expected an indented block"
    if what is not None:
        message += f" after {what} on line {_line_of(source, header)}"
    return IndentationProblem(start, end, message, "IndentationError")


def indentation_error(
    source: bytes, start: int = 0, end: int | None = None
) -> IndentationProblem | None:
    """The first indentation error of ``source`` (Python source bytes), or None.

    With ``start``/``end``, only the logical lines starting in ``[start, end)`` are checked;
    ``start`` must be the start of a line holding a module-level statement (or a blank or
    comment line before one), where the indentation stack is empty. A header that ends the
    range is missing its block unless the first line of code at or after ``end`` is indented
    deeper (the error then points at that line, as for the whole source).

    Positions: a misplaced indentation points at the indentation of its line (of the first
    physical line of a logical line continued with a backslash); a missing block at the code
    of the line that should have been indented, or at the end of the header when nothing
    follows. Source that leaves a string or a bracket open stops the check there (the parser
    reports that error).
    """
    event = indentation_event(source, start, end)
    return event if event is not None and event.error_class else None


# What ``_native.indentation_scan`` reports, by its first field.
_STOP, _TAB, _UNINDENT, _UNEXPECTED, _EXPECTED, _INVALID, _TOO_DEEP = range(7)


def indentation_event(
    source: bytes, start: int = 0, end: int | None = None
) -> IndentationProblem | None:
    """What ``indentation_error`` finds first, or where its check stops: a string or a bracket
    left open to the end of ``source``, returned as a problem with an empty ``message`` and
    ``error_class`` at the start of that logical line's code. (An editor caching the first
    event of a document must know that nothing after a stop was checked.)"""
    if _native is None:
        return python_indentation_event(source, start, end)
    found = _native.indentation_scan(source, start, len(source) if end is None else end)
    if found is None:
        return None
    kind, begin, stop, header = found
    if kind == _STOP:
        return IndentationProblem(begin, stop, "", "")
    if kind == _TAB:
        return _tab_error(begin, stop)
    if kind == _EXPECTED:
        return _expected_block(source, header, begin, stop)
    if kind == _INVALID:
        at = _newline_token(source, begin)
        return IndentationProblem(at, at, "invalid syntax", "SyntaxError")
    message = {
        _UNINDENT: "unindent does not match any outer indentation level",
        _UNEXPECTED: "unexpected indent",
        _TOO_DEEP: "too many levels of indentation",
    }[kind]
    return IndentationProblem(begin, stop, message, "IndentationError")


def _newline_token(source: bytes, at: int) -> int:
    """Where CPython's NEWLINE token starts after the end of a line's code at ``at``: past
    blanks, at a comment or the line break (where it reports a colon that ends a line that
    no compound statement begins)."""
    while source[at : at + 1] in (b" ", b"\t", b"\f"):
        at += 1
    return at


def python_indentation_event(
    source: bytes, start: int = 0, end: int | None = None
) -> IndentationProblem | None:
    """``indentation_event`` in Python: for an install without ``drain_ls._native``."""
    size = len(source)
    stop = size if end is None else min(end, size)
    at = _skip(source, 3 if start == 0 and source.startswith(_BOM) else start)
    cols = [0]
    alts = [0]
    measured: dict[bytes, tuple[int, int]] = {b"": (0, 0)}
    header = -1  # where the block header awaiting its block starts
    run = _run().match
    while at < stop:
        match = run(source, at)
        if match is not None:
            indent = match.group(1)
            code = at + len(indent)
            kind = match.lastindex  # 1: no header; 2: the run ends with one; 3: it is one
            next_header = -1 if kind == 1 else code if kind == 3 else match.start(2) + len(indent)
            next_at = match.end()
        else:
            code = _past_joins(source, at)
            if code >= size:
                break
            if source[code] in b"\r\n#":  # a blank line ending in a lone CR
                at = _skip(source, _line_end(source, code) + 1)
                continue
            indent = source[at:code]
            line = _slow_line(source, code)
            if line is None:  # an unterminated string or bracket: the parser reports it
                return IndentationProblem(code, code, "", "")
            last, line_end = line
            next_header = code if last > code and source[last - 1] == 0x3A else -1
            next_at = _skip(source, line_end)
        found = measured.get(indent)
        if found is None:
            found = measured[indent] = _measure(indent)
        col, alt = found
        top = cols[-1]
        pushed = False
        if col == top:
            if alt != alts[-1]:
                return _tab_error(at, code)
        elif col > top:
            if alt <= alts[-1]:
                return _tab_error(at, code)
            if len(cols) >= MAX_INDENT:
                message = "too many levels of indentation"
                return IndentationProblem(at, code, message, "IndentationError")
            cols.append(col)
            alts.append(alt)
            pushed = True
        else:
            while len(cols) > 1 and col < cols[-1]:
                cols.pop()
                alts.pop()
            if col != cols[-1]:
                message = "unindent does not match any outer indentation level"
                return IndentationProblem(at, code, message, "IndentationError")
            if alt != alts[-1]:
                return _tab_error(at, code)
        if header >= 0:
            if not pushed:
                return _expected_block(source, header, code, _line_end(source, code))
        elif pushed:
            return IndentationProblem(at, code, "unexpected indent", "IndentationError")
        # A run read past the end of the range: a header there is the next range's.
        header = next_header if next_header < stop else -1
        if header >= 0 and _COMPOUND.match(source, _past_joins(source, header)) is None:
            # ``C:`` opening a block: tree-sitter reads an annotation there (its type on
            # the next line); Python only has compound statements end in a colon.
            line = _slow_line(source, header)
            end = _newline_token(source, line[0] if line is not None else header)
            return IndentationProblem(end, end, "invalid syntax", "SyntaxError")
        at = next_at
    code = _past_joins(source, at)
    if header >= 0 and code < size:
        # The block of a header that ends the range would start at or after it: the first
        # line of code there decides, as it would for the whole source.
        if _measure(source[at:code])[0] > cols[-1]:
            return None
        return _expected_block(source, header, code, _line_end(source, code))
    if header >= 0:
        line = _slow_line(source, header)
        last = line[0] if line is not None else size
        return _expected_block(source, header, last, last)
    return None


# Blanks and backslash-joined line breaks: a logical line's first word may follow them.
_JOINS = re.compile(rb"(?:[ \t\f]|\\\r?\n|\\\r)*+")


def _past_joins(source: bytes, at: int) -> int:
    """The first byte at or after ``at`` that is not a blank or a backslash-joined line
    break (a backslash alone on a line, then ``def f():``, is one logical line)."""
    return _JOINS.match(source, at).end()  # type: ignore[union-attr]


def _skip(source: bytes, at: int) -> int:
    """The start of the first line at or after ``at`` that is not blank or a comment."""
    return _BLANKS.match(source, at).end()  # type: ignore[union-attr]


def _line_end(source: bytes, at: int) -> int:
    eol = _EOL.search(source, at)
    return eol.start() if eol else len(source)


def _tab_error(start: int, code: int) -> IndentationProblem:
    message = "inconsistent use of tabs and spaces in indentation"
    return IndentationProblem(start, code, message, "TabError")
