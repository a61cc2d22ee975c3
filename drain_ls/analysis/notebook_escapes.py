"""IPython escapes in a notebook's code (``drain_ls.analysis.notebook``): found as ruff's
lexer finds them (``escape_ranges``) and masked with a neutral expression of the same length
(``mask``), so that byte offsets are unchanged and nothing in them counts as Python.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(
    rb"(?P<ws>[ \t\f]+)"
    rb"|(?P<nl>\r\n|\r|\n)"
    rb"|(?P<cont>\\(?:\r\n|\r|\n))"
    rb"|(?P<str>'''|\"\"\"|'|\")"
    rb"|(?P<comment>#[^\r\n]*)"
    rb"|(?P<open>[(\[{])"
    rb"|(?P<close>[)\]}])"
    rb"|(?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|==|!=|<=|>=|[-+*/%&|^@]=|\*\*|//|<<|>>"
    rb"|[-+*/%&|^~<>=!:.,;@\\])"
    rb"|(?P<q>\?)"
    rb"|(?P<word>[^ \t\f\r\n\\'\"#()\[\]{}\-+*/%&|^~<>=!:.,;@?]+)"
)
_STRING_BODY = {
    b"'": re.compile(rb"(?:[^'\\\r\n]+|\\(?:\r\n|[\s\S]))*'?"),
    b'"': re.compile(rb'(?:[^"\\\r\n]+|\\(?:\r\n|[\s\S]))*"?'),
    b"'''": re.compile(rb"(?:[^'\\]+|\\[\s\S]|'(?!''))*(?:''')?"),
    b'"""': re.compile(rb'(?:[^"\\]+|\\[\s\S]|"(?!""))*(?:""")?'),
}
_ESCAPE_BODY = re.compile(rb"(?:[^\\\r\n]+|\\(?:\r\n|\r|\n)?)*")
_INDENT = re.compile(rb"[ \t\f]*")
_ESCAPE_STARTS = frozenset(b"%!?/;,")


def escape_ranges(source: bytes) -> list[tuple[int, int]]:
    """Byte ranges of the IPython escapes in ``source``, as ruff's lexer finds them: a line
    that starts (at the start of a logical line) with ``% %% ! !! ? ?? / ; ,``, the ``%`` or
    ``!`` command after an assignment's ``=`` (``files = !ls``), and a logical line that ends
    with ``?`` or ``??`` (``os.path?``). A ``\\`` before a line break continues an escape."""
    ranges: list[tuple[int, int]] = []
    size = len(source)
    position = 0
    depth = 0
    line_start = True
    logical_start = -1
    question_end = -1  # end of the last significant token when it was a ``?``
    while position < size:
        if line_start and depth == 0:
            position = _INDENT.match(source, position).end()  # type: ignore[union-attr]
            line_start = False
            if position < size and source[position] in _ESCAPE_STARTS:
                end = _ESCAPE_BODY.match(source, position).end()  # type: ignore[union-attr]
                ranges.append((position, end))
                position = end
                continue
            logical_start = position
        match = _TOKEN.match(source, position)
        assert match is not None  # the alternatives cover every byte
        kind, end = match.lastgroup, match.end()
        if kind == "nl":
            if depth == 0:
                if question_end >= 0 and logical_start >= 0:
                    ranges.append((logical_start, question_end))
                line_start, logical_start, question_end = True, -1, -1
            position = end
            continue
        if kind in ("ws", "cont", "comment"):
            position = end
            continue
        question_end = end if kind == "q" else -1
        if kind == "str":
            end = _STRING_BODY[match.group()].match(source, end).end()  # type: ignore[union-attr]
        elif kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "op" and depth == 0 and match.group() == b"=":
            after = _INDENT.match(source, end).end()  # type: ignore[union-attr]
            if after < size and source[after] in b"%!":
                end = _ESCAPE_BODY.match(source, after).end()  # type: ignore[union-attr]
                ranges.append((after, end))
        position = end
    if question_end >= 0 and logical_start >= 0 and depth == 0:
        ranges.append((logical_start, question_end))
    return ranges


def mask(source: bytes, ranges: list[tuple[int, int]]) -> bytes:
    """``source`` with each range replaced by ``0`` and spaces (line breaks kept): an
    expression of the same length, neutral for every check."""
    if not ranges:
        return source
    out = bytearray(source)
    for start, end in ranges:
        for offset in range(start, end):
            if out[offset] not in (0x0A, 0x0D):
                out[offset] = 0x20
        out[start] = 0x30  # "0"
    return bytes(out)
