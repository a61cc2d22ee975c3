"""Where a document's syntax may be cut into chunks (``drain_ls.analysis.forest``).

Lexical scans of its bytes: whether a line may start a module-level statement of its own
(``starts_statement``), and whether the text before an offset leaves a bracket, a string or
a line continuation open (``first_closed``, and ``_brackets``, the summary of a chunk that
``Forest`` adds up); and whether a chunk's tree is broken at its very end, so that the next
chunk may mend it (``_open_at_end``).
"""

from __future__ import annotations

import re

from tree_sitter import Node, Tree

from drain_ls.analysis.source import bare_decorator

# A line that does not start a module-level statement of its own: indented, a comment (it
# may sit inside an indented block), a closing bracket, a clause that continues the statement
# before it, or a backslash (it joins the line to the next, maybe indented).
_CONTINUATION = re.compile(rb"[ \t\f#)\]}\\]|(?:else|elif|except|finally|case)\b")
# Blank lines (before the line that decides).
_BLANK_LINES = re.compile(rb"(?:[ \t\f]*+(?:\r\n?|\n))*+")


def starts_statement(source: bytes, offset: int) -> bool:
    """Whether ``offset`` is a line start where a new module-level statement may start: the
    first line after it that is not blank (or the end) starts one.

    Blank lines may open a chunk: Enter typed at the start of a chunk's first line (a new
    line above a ``class``) leaves the chunk where it is, instead of merging it with the
    chunk before it for as long as the user types on that line (a parse of both afresh at
    every keystroke that leaves an error)."""
    if offset > 0 and (
        source[offset - 1 : offset] not in (b"\n", b"\r")
        or source[offset - 1 : offset + 1] == b"\r\n"  # between the two bytes of a break
    ):
        return False
    blank = _BLANK_LINES.match(source, offset)
    offset = blank.end() if blank is not None else offset
    return offset >= len(source) or _CONTINUATION.match(source, offset) is None


def bare_decorator_at_end(root: Node, source: bytes) -> bool:
    """Whether a broken chunk (its ``root``) ends with a decorator's line that an error cut
    from its definition, which the next chunk holds: the chunk's errors may be valid code with
    it (``drain_ls.analysis.compiling.compiled_unit``)."""
    return root.has_error and root.child_count > 0 and bare_decorator(source, root.children[-1])


def _open_at_end(tree: Tree) -> bool:
    """Whether the chunk is broken at its very end, so that the next chunk may mend it:
    no token of its own (extras, comments and line continuations, and empty nodes aside)
    comes after the end of its first error.

    A decorator waits for its definition, and tree-sitter lets a line that ends in an
    operator (``x =``) go on at the next line: there the parser meets the end of the chunk
    before any token it cannot take, and its errors are all at the end. An error that a
    real token follows is one the parser met before the end of the chunk's text: that text
    followed by more has it too, whatever the errors after it. A letter typed into a
    method's indentation breaks its class, often the chunk's last statement, and a quote
    typed at the end of a ``class`` line pairs with every quote after it, an error to the
    chunk's end; neither makes the next chunk part of it (a parse of both afresh at every
    keystroke, for nothing).
    """
    root = tree.root_node
    if not root.has_error:
        return False
    first_error = -1
    stack = [root]
    while stack:
        node = stack.pop()
        if (node.type == "ERROR" or node.is_missing) and (
            first_error < 0 or node.end_byte < first_error
        ):
            first_error = node.end_byte
        stack.extend(
            c
            for c in node.children
            if (c.has_error or c.is_missing) and (first_error < 0 or c.start_byte < first_error)
        )
    node = root
    while True:  # down to the last token that is not an extra and not empty
        child = next(
            (
                c
                for c in reversed(node.children)
                # An ERROR node may be an extra: the tokens in it are the chunk's own.
                if (c.type == "ERROR" or not c.is_extra) and c.end_byte > c.start_byte
            ),
            None,
        )
        if child is None:
            break
        node = child
    return node is root or node.start_byte < first_error


_LEXICAL = re.compile(rb"""[#'"()\[\]{}\\]""")
_LINE_END = re.compile(rb"[\r\n]")
_NOT_BLANK = re.compile(rb"[^ \t\f\r\n]")


def lexically_open(source: bytes, begin: int, end: int) -> bool:
    """Whether Python's tokenizer, started on a fresh line at ``begin``, is still inside
    brackets, inside a string, or after a line-continuation backslash at ``end``: then the
    text after ``end`` continues what comes before it, and ``end`` cannot end a chunk."""
    return first_closed(source, begin, [end]) is None


def first_closed(source: bytes, begin: int, ends: list[int]) -> int | None:
    """The first of ``ends`` (ascending, after ``begin``) where Python's tokenizer, started
    on a fresh line at ``begin``, is outside any string and bracket and not after a
    line-continuation backslash; None when there is none.

    Only strings, comments, brackets and backslashes matter; anything unusual (an odd
    f-string) can only make an end look open, which merges chunks: slower, never wrong."""
    depth = 0
    pos = begin
    search = _LEXICAL.search
    limit = ends[-1]
    k, count = 0, len(ends)
    while True:
        match = search(source, pos, limit)
        at = match.start() if match is not None else limit
        while k < count and ends[k] <= at:
            if depth == 0:
                return ends[k]
            k += 1
        if match is None or k == count:
            return None
        char = source[at]
        pos = at + 1
        if char == 0x23:  # a comment, to the end of its line
            line_end = _LINE_END.search(source, pos, limit)
            pos = line_end.start() if line_end is not None else limit
        elif char in b"([{":
            depth += 1
        elif char in b")]}":
            depth = max(0, depth - 1)
        elif char == 0x5C:  # a backslash: the line goes on, past any blank lines
            end = _NOT_BLANK.search(source, pos, limit)
            pos = end.start() if end is not None else limit
            while k < count and ends[k] <= pos:
                k += 1
        else:
            closed = _string_end(source, at, limit)
            if closed < 0:
                return None
            pos = closed
        while k < count and ends[k] < pos:
            k += 1  # inside the string or continued line just skipped: open


def _brackets(source: bytes, begin: int, end: int) -> tuple[int, int] | None:
    """The brackets of ``source[begin:end]`` as ``first_closed`` reads them, started on a
    fresh line at ``begin`` outside any bracket: the depth at ``end`` (a closing bracket at
    depth 0 is ignored) and the net count (opening less closing brackets); None when a
    string or a line continuation runs on past ``end``.

    Strings, comments and backslashes read the same at any depth, so started at depth ``d``
    instead, the depth at ``end`` is ``max(d + net, depth)``: what lets ``Forest`` add up
    the chunks after a broken one from their summaries instead of scanning them again."""
    depth = net = 0
    pos = begin
    search = _LEXICAL.search
    while True:
        match = search(source, pos, end)
        if match is None:
            return depth, net
        at = match.start()
        char = source[at]
        pos = at + 1
        if char == 0x23:  # a comment, to the end of its line
            line_end = _LINE_END.search(source, pos, end)
            if line_end is None:
                return depth, net
            pos = line_end.start()
        elif char in b"([{":
            depth += 1
            net += 1
        elif char in b")]}":
            depth = max(0, depth - 1)
            net -= 1
        elif char == 0x5C:  # a backslash: the line goes on, past any blank lines
            after = _NOT_BLANK.search(source, pos, end)
            if after is None:
                return None
            pos = after.start()
        else:
            closed = _string_end(source, at, end)
            if closed < 0:
                return None
            pos = closed


def _string_end(source: bytes, at: int, end: int) -> int:
    """Where the string literal opening at ``at`` ends (-1: it does not end before ``end``).
    A one-quote string also ends, unclosed, at a line break without a backslash."""
    quote = source[at : at + 3]
    if quote not in (b'"""', b"'''"):
        quote = source[at : at + 1]
    pos = at + len(quote)
    one_line = len(quote) == 1
    while True:
        close = source.find(quote, pos, end)
        if one_line:
            line_end = _LINE_END.search(source, pos, close if close >= 0 else end)
            if line_end is not None and not _escaped(source, line_end.start(), pos):
                return line_end.start()
        if close < 0:
            return -1
        if _escaped(source, close, pos):
            pos = close + 1
            continue
        return close + len(quote)


def _escaped(source: bytes, offset: int, floor: int) -> bool:
    """Whether the byte at ``offset`` follows an odd number of backslashes."""
    count = 0
    offset -= 1
    while offset >= floor and source[offset] == 0x5C:
        count += 1
        offset -= 1
    return count % 2 == 1
