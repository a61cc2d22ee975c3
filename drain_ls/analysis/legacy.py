"""Invalid Python that tree-sitter-python parses without an ERROR node.

The grammar keeps Python 2 (``print x``, ``exec code in ns``, backticks, ``0777``, ``10L``,
``ur''``, ``<>``, ``except A, B as e``, ``raise E, msg``, tuple parameters) and accepts a few
other things CPython rejects (a walrus as a statement, ``nonlocal`` at module level, an
invalid f-string conversion, ``try`` without ``except`` or ``finally``, assigning to
``__debug__``, an operator ending a line outside brackets, which tree-sitter continues on the
next one, ``x as y`` outside ``with`` and ``except``, ``async`` and ``await`` as names, what ``del`` or
``with ... as`` names (``drain_ls.analysis.store_targets``), arguments and parameters out of
order or repeated, bytes beside text, ``1_``: ``drain_ls.analysis.token_scan``; invisible
invisible characters: ``drain_ls.analysis.invisible``):
``legacy_errors`` reports them, in CPython's words (3.12+). Missing blocks
and the other indentation errors are ``drain_ls.analysis.indentation``'s;
``except A, B:`` without ``as``, valid from 3.14, is a version error
(``drain_ls.analysis.versions``).

Cost: the candidates of every rule are found in the source's bytes
(``drain_ls.analysis.legacy_candidates``: in C, or a regular expression per rule), and each
is looked up in the tree; one look drops those in a comment or a docstring, most of them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator

from tree_sitter import Node

from drain_ls.analysis.escapes import escape_errors
from drain_ls.analysis.indentation import logical_line_code_end
from drain_ls.analysis.invisible import invisible_errors
from drain_ls.analysis.legacy_candidates import LINE_RULES, candidates
from drain_ls.analysis.source import IDENTIFIER_BYTES
from drain_ls.analysis.store_targets import invalid_target
from drain_ls.analysis.token_scan import token_errors
from drain_ls.analysis.versions import DEFAULT_TARGET, PythonVersion

LegacyError = tuple[int, int, str]
Check = Callable[[Node, bytes, int, int], Iterator[LegacyError]]

_VALID_PREFIXES = frozenset({"", "r", "u", "b", "br", "rb", "f", "fr", "rf", "t", "tr", "rt"})
_VALID_SORTED = frozenset("".join(sorted(p)) for p in _VALID_PREFIXES)
_CONVERSIONS = frozenset({b"!r", b"!s", b"!a"})
_SCOPES = frozenset({"function_definition", "class_definition", "lambda"})


def _at(root: Node, start: int, end: int) -> Node | None:
    node = root.descendant_for_byte_range(start, end)
    if node is None or node.start_byte != start or node.end_byte != end:
        return None
    return node


def _print_exec(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    word = source[start:end]
    node = _at(root, start, end)
    statement = node.parent if node is not None else None
    if statement is None or statement.type not in ("print_statement", "exec_statement"):
        return
    if any(child.type == "chevron" for child in statement.children):
        return  # ``print >>f, x``: valid Python 3 (a tuple), however odd
    name = word.decode()
    yield (
        statement.start_byte,
        statement.end_byte,
        (f"Missing parentheses in call to '{name}'. Did you mean {name}(...)?"),
    )


def _backtick(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    if source[start - 1 : start] == b"`" or source[end : end + 1] == b"`":
        return  # reStructuredText in a docstring or a comment
    node = _at(root, start, end)
    if node is not None and node.type == "string_start":
        yield start, end, "invalid syntax"


def _octal(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    node = _at(root, start, end)
    if node is not None and node.type == "integer":
        yield (
            node.start_byte,
            node.end_byte,
            (
                "leading zeros in decimal integer literals are not permitted; use an 0o prefix "
                "for octal integers"
            ),
        )


def _long(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``start``/``end``: an ``L`` after a digit, ending a name or a number."""
    node = root.descendant_for_byte_range(end - 1, end)
    if node is None or node.type != "integer" or node.end_byte != end:
        return
    text = node.text or b""
    kind = {b"x": "hexadecimal", b"o": "octal", b"b": "binary"}.get(
        text[1:2].lower() if text[:1] == b"0" else b"", "decimal"
    )
    yield node.end_byte - 1, node.end_byte, f"invalid {kind} literal"


def _prefix(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``source[end - 1]``: the quote of a string with a prefix of two letters or more."""
    quote = end - 1
    node = root.descendant_for_byte_range(quote, end)
    if node is None or node.type != "string_start":
        return
    start = quote
    prefix = source[node.start_byte : quote].decode("ascii", "replace").lower()
    if "".join(sorted(prefix)) not in _VALID_SORTED or len(set(prefix)) < len(prefix):
        yield node.start_byte, start, "invalid syntax"


def _not_equal(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    node = _at(root, start, end)
    if node is not None and node.type == "<>":
        yield node.start_byte, node.end_byte, "invalid syntax"


def _except_as(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    node = _at(root, start, end)
    clause = node.parent if node is not None else None
    if clause is None or clause.type != "except_clause":
        return
    values = [
        clause.children[i]
        for i in range(clause.child_count)
        if clause.field_name_for_child(i) == "value"
    ]
    if len(values) > 1 and any(value.type == "as_pattern" for value in values):
        yield (
            values[0].start_byte,
            values[-1].end_byte,
            ("multiple exception types must be parenthesized"),
        )


def _raise_comma(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    node = _at(root, start, end)
    statement = node.parent if node is not None else None
    if statement is None or statement.type != "raise_statement":
        return
    for child in statement.named_children:
        if child.type == "expression_list":
            comma = next((c for c in child.children if c.type == ","), None)
            if comma is not None:
                yield comma.start_byte, comma.end_byte, "invalid syntax"


def _tuple_parameter(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``start``/``end``: a parenthesis opening a parameter."""
    node = root.descendant_for_byte_range(start, end)
    pattern = node.parent if node is not None and node.type == "(" else None
    holder = pattern.parent if pattern is not None else None
    if pattern is None or pattern.type not in ("tuple_pattern", "list_pattern"):
        return
    if holder is not None and holder.type == "parameters":
        yield pattern.start_byte, pattern.end_byte, "Function parameters cannot be parenthesized"
    elif holder is not None and holder.type == "lambda_parameters":
        yield (
            pattern.start_byte,
            pattern.end_byte,
            ("Lambda expression parameters cannot be parenthesized"),
        )


# Nodes in whose brackets (or string) a line may break.
_BRACKETED = frozenset(
    {
        "argument_list",
        "parenthesized_expression",
        "list",
        "tuple",
        "set",
        "dictionary",
        "subscript",
        "list_comprehension",
        "set_comprehension",
        "dictionary_comprehension",
        "generator_expression",
        "parameters",
        "type_parameter",
        "string",
        "import_from_statement",
        "with_clause",
        "list_pattern",
        "tuple_pattern",
        "dict_pattern",
        "class_pattern",
    }
)
_STATEMENT_HOLDERS = frozenset({"module", "block"})


def _keyword_eol(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``_continued_line`` for ``and``, ``or``, ``not``, ``in`` and ``is`` that are words of
    their own (not the end of ``band`` or ``this``)."""
    if start == 0 or source[start - 1] not in IDENTIFIER_BYTES:
        yield from _continued_line(root, source, start, end)


def _continued_line(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``[start, end)``: an operator (``=``, ``+=``, ``.``, ``+``, ``==``, ...) that ends its
    line, a comment aside, with no backslash. tree-sitter goes on with the next line (``x =``
    then ``y = 1`` is a chained assignment for it, ``os.`` then ``path`` an attribute); Python
    ends the statement there, unless the line break is inside brackets."""
    node = root.descendant_for_byte_range(end - 1, end)
    if node is None or node.end_byte != end or node.is_named or node.parent is None:
        return
    statement = node
    while statement.parent is not None and statement.parent.type not in _STATEMENT_HOLDERS:
        if statement.parent.type in _BRACKETED:
            return
        statement = statement.parent
    eol = source.find(b"\n", end)
    at = len(source) if eol < 0 else eol - (source[eol - 1 : eol] == b"\r")
    # A statement with an error may have lost its brackets: the tree's errors are reported
    # (or cleared) on their own. Else read as CPython reads it: the statement's logical line
    # must end at this line break.
    if statement.has_error:
        return
    code_end = logical_line_code_end(source, statement.start_byte)
    if code_end is not None and code_end <= at:
        yield at, at, "invalid syntax"


# Simple statements that tree-sitter-python continues over a line break outside brackets
# (``from m`` then ``import x`` on the next line, ``import a,`` then ``b``): Python ends them
# at the line break. Only their lines that end so are looked at.
_SPLITTABLE = frozenset(
    {"import_statement", "import_from_statement", "assert_statement", "global_statement"}
)


def _split_statement(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``[start, end)``: a line that starts an import, ``assert`` or ``global`` statement
    and ends without closing it (``from m``, ``from m import``, or a trailing comma and no
    bracket on the line: the ``split`` candidates of ``_LINE_START``). An error (CPython's words, at the line break) when tree-sitter
    made one statement of it and the next line, and the logical line ends there."""
    line = source[start:end]
    keyword = start + len(line) - len(line.lstrip(b" \t\f"))
    node = root.descendant_for_byte_range(keyword, keyword + 1)
    statement = node
    while statement is not None and statement.type not in _SPLITTABLE:
        statement = statement.parent
    if statement is None or statement.has_error:
        return
    # (The line holds no quote: a ``#`` starts its comment.)
    trailing_comma = line.split(b"#", 1)[0].rstrip().endswith(b",")
    if statement.end_byte > end:
        code_end = logical_line_code_end(source, statement.start_byte)
        if code_end is None or code_end > end:
            return
    elif not trailing_comma:
        return  # (``import a,`` alone is one statement for tree-sitter, and an error)
    if statement.type == "import_from_statement" and trailing_comma:
        yield end, end, "trailing comma not allowed without surrounding parentheses"
    else:
        yield end, end, "invalid syntax"


_AS_HOLDERS = frozenset({"with_item", "except_clause", "except_group_clause"})
# Expressions whose last operand tree-sitter lets ``x as y`` be, where Python binds the
# ``as`` to the whole (``with a if b else c as d``, ``with (lambda: a as d)``).
_AS_OUTERMOST = frozenset({"conditional_expression", "lambda"})
# What a ``with`` item cannot be when the items are parenthesized (they then read as one
# tuple, where an ``as`` is an error): an unparenthesized ``:=`` or a starred expression.
_NOT_WITH_ITEMS = frozenset({"named_expression", "list_splat"})


def _as_expression(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``start``/``end``: an ``as``. tree-sitter reads ``x as y`` as an expression anywhere
    (``json as js`` alone is a statement for it); Python only after ``with`` items and
    ``except`` types (patterns aside: they are ``case`` patterns), and the item before it is
    neither an unparenthesized ``:=`` nor starred, nor beside one (ruff: "cannot be used
    here")."""
    node = _at(root, start, end)
    pattern = node.parent if node is not None else None
    if pattern is None or pattern.type != "as_pattern" or node.is_named:  # type: ignore[union-attr]
        return
    if not any(child.type == "as_pattern_target" for child in pattern.children):
        return  # a ``case`` pattern
    child, holder = pattern, pattern.parent
    while holder is not None and (
        holder.type in _AS_OUTERMOST and holder.named_children[-1].id == child.id
    ):
        child, holder = holder, holder.parent
    if holder is not None and holder.type in ("parenthesized_expression", "tuple"):
        # The parentheses of ``with (a as b):`` (tree-sitter makes them its only item's, and
        # a tuple of ``with (a as b,):``), not those of an item among others (``with (a, (b
        # as c)):``, ``with (a as b), c:``).
        holder = holder.parent
        clause = holder.parent if holder is not None else None
        first = clause.child(0) if clause is not None else None
        if (
            holder is None
            or holder.type != "with_item"
            or first is None
            or first.type == "("
            or clause.named_child_count != 1  # type: ignore[union-attr]
        ):
            holder = None
    if holder is None or holder.type not in _AS_HOLDERS:
        yield start, end, "invalid syntax"
        return
    alias = pattern.child_by_field_name("alias")
    if holder.type == "with_item" and alias is not None and alias.named_child_count:
        invalid = invalid_target(alias.named_children[0], delete=False)
        if invalid is not None:  # (``with a as 1:``)
            bad, name = invalid
            yield bad.start_byte, bad.end_byte, f"cannot assign to {name}"
    value = pattern.named_children[0] if pattern.named_child_count else None
    clause = holder.parent if holder.type == "with_item" else None
    items = clause.named_children if clause is not None and clause.type == "with_clause" else []
    if (value is not None and value.type in _NOT_WITH_ITEMS) or any(
        item.named_child_count and item.named_children[0].type in _NOT_WITH_ITEMS for item in items
    ):
        yield start, end, "invalid syntax"


def _walrus_statement(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    node = _at(root, start, end)
    named = node.parent if node is not None else None
    holder = named.parent if named is not None else None
    if (
        named is not None
        and named.type == "named_expression"
        and holder is not None
        and holder.type == "expression_statement"
    ):
        yield node.start_byte, node.end_byte, "invalid syntax"  # type: ignore[union-attr]


def _nonlocal(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    node = _at(root, start, end)
    statement = node.parent if node is not None else None
    if statement is None or statement.type != "nonlocal_statement":
        return
    scope = statement.parent
    while scope is not None and scope.type not in _SCOPES:
        scope = scope.parent
    if scope is None:
        yield (
            statement.start_byte,
            statement.end_byte,
            ("nonlocal declaration not allowed at module level"),
        )


def _conversion(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    if source[end : end + 1] == b"=":
        return  # ``!=``
    node = root.descendant_for_byte_range(start, start + 1)
    if node is None or node.type != "type_conversion" or node.start_byte != start:
        return
    text = node.text or b""
    if text not in _CONVERSIONS:
        character = text[1:].decode("utf-8", "replace")
        yield (
            node.start_byte + 1,
            node.end_byte,
            (f"f-string: invalid conversion character '{character}': expected 's', 'r', or 'a'"),
        )


def _try(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    if _handled(source, start):
        return
    node = _at(root, start, end)
    statement = node.parent if node is not None else None
    if statement is None or statement.type != "try_statement":
        return
    handlers = ("except_clause", "except_group_clause", "finally_clause")
    if any(child.type in handlers for child in statement.children):
        return
    other = next((c for c in statement.children if c.type == "else_clause"), None)
    if other is not None:
        yield other.start_byte, other.start_byte + 4, "expected 'except' or 'finally' block"
    else:
        yield statement.end_byte, statement.end_byte, "expected 'except' or 'finally' block"


def _starts_line(source: bytes, at: int) -> bool:
    """Whether only blanks stand before ``at`` on its line (read back over them alone: a
    long line of errors is not read again for each)."""
    while at and source[at - 1] in b" \t\f":
        at -= 1
    return at == 0 or source[at - 1] in b"\r\n"


def _starts_statement(node: Node) -> bool:
    """Whether ``node`` is the first token of a statement."""
    start = node.start_byte
    parent = node.parent
    while parent is not None and parent.start_byte == start and parent.type not in _BLOCKS:
        node, parent = parent, parent.parent
    return parent is not None and parent.type in _BLOCKS


_BLOCKS = frozenset({"module", "block"})


def _handled(source: bytes, start: int) -> bool:
    """Whether the ``try`` at ``start`` is, to the eye, followed by an ``except`` or a
    ``finally`` at its own indentation (a cheap test before the tree is asked): the first
    line of code after it that is not indented deeper is one. (Only the try's own lines and
    the line after them are read, so that the answer depends on its statement alone.)"""
    line = source.rfind(b"\n", 0, start) + 1
    indent = source[line:start]
    if indent.strip(b" \t\f"):
        return False  # not at the start of its line
    following = _following(indent).search(source, start)
    return following is not None and following.group(1) is not None


@functools.lru_cache(maxsize=64)
def _following(indent: bytes) -> re.Pattern[bytes]:
    """The first line of code not indented deeper than ``indent``: is it an ``except`` or a
    ``finally`` at that indentation (group 1)?"""
    return re.compile(
        rb"\n(?![ \t\f]*+(?:#|\r?\n|\r|\Z))(?!"
        + re.escape(indent)
        + rb"[ \t\f])(?:"
        + re.escape(indent)
        + rb"(except|finally)\b)?"
    )


def _del_debug(
    root: Node, source: bytes, start: int, end: int, target: PythonVersion
) -> Iterator[LegacyError]:
    """``start``/``end``: a ``del`` keyword; ``del __debug__`` is an error from Python 3.9 on
    (ruff's words). (What else it may not delete: ``drain_ls.analysis.store_targets``, from
    the token scan, which finds every ``del``.)"""
    if target < PythonVersion.PY39:
        return
    node = _at(root, start, end)
    statement = node.parent if node is not None else None
    if statement is None or statement.type != "delete_statement":
        return
    stack = list(statement.named_children)
    while stack:
        item = stack.pop()
        if item.type == "identifier" and item.text == b"__debug__":
            yield (
                item.start_byte,
                item.end_byte,
                (f"cannot delete `__debug__` on Python {target} (syntax was removed in 3.9)"),
            )
        elif item.type in ("expression_list", "tuple", "list", "parenthesized_expression"):
            stack.extend(item.named_children)


_STORE_PARENTS = {
    "assignment": ("left",),
    "augmented_assignment": ("left",),
    "for_statement": ("left",),
    "for_in_clause": ("left",),
    "named_expression": ("name",),
    "as_pattern_target": (None,),
}


def _debug(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    node = _at(root, start, end)
    if node is None or node.type != "identifier":
        return
    child, parent = node, node.parent
    while parent is not None and parent.type in ("pattern_list", "tuple_pattern", "list_pattern"):
        child, parent = parent, parent.parent
    if parent is None or parent.type not in _STORE_PARENTS:
        return
    fields = _STORE_PARENTS[parent.type]
    for index, candidate in enumerate(parent.children):
        if candidate == child and parent.field_name_for_child(index) in fields:
            yield node.start_byte, node.end_byte, "cannot assign to __debug__"
            return


def _line_checks(target: PythonVersion) -> dict[str, Check]:
    return {
        "print": _print_exec,
        "exec": _print_exec,
        "nonlocal": _nonlocal,
        "try": _try,
        "raise": _raise_comma,
        "except": _except_as,
        "def": _tuple_parameter,
        "del": functools.partial(_del_debug, target=target),
        "debug": _debug,
        "split": _split_statement,
    }


def legacy_errors(
    root: Node,
    source: bytes,
    target: PythonVersion = DEFAULT_TARGET,
    begin: int | None = None,
    end: int | None = None,
    original: bytes | None = None,
) -> list[LegacyError]:
    """The invalid constructs of ``source`` that its tree-sitter tree shows without an ERROR
    node: (start, end, message), sorted by position. ``root`` is the tree's module node (or a
    chunk's root: only the source under it is searched). ``target`` decides ``del
    __debug__`` (an error from Python 3.9 on, worded as ruff does). ``begin``/``end``: only
    the candidates in that range of ``root`` (whole module-level statements, for an editor
    that checks only what an edit touched; each error depends on its statement alone).

    The statements looked for by their keyword (``print x``, ``exec``, ``nonlocal``, ``try``,
    ``raise E, v``, ``except A, B as e``, a tuple as first parameter of a ``def``, ``del
    __debug__`` and ``__debug__ = ...``) are found where they begin a line, which is where
    they always are but after a semicolon or a colon (``if x: print y``). ``source`` is what
    was parsed (``drain_ls.analysis.grammar_gaps.parse_input``); ``original``, the text itself
    when it differs, is where the escapes of strings are read (parsing neutralizes some)."""
    found: set[LegacyError] = set()
    begin = root.start_byte if begin is None else max(begin, root.start_byte)
    end = root.end_byte if end is None else min(end, root.end_byte)
    # (A module that starts with a form feed has its root after it: still the line's start.)
    at_line_start = _starts_line(source, begin)
    checks = _checks_by_kind(target)
    lookup = root.descendant_for_byte_range
    for kind, start, stop in candidates(source, begin, end, at_line_start):
        # Most candidates lie in a docstring or a comment (``# see below.``), where no rule
        # finds anything: one look at the tree skips them (a third of the cost).
        node = lookup(start, stop)
        if node is not None and node.type in _INERT:
            continue
        found.update(checks[kind](root, source, start, stop))
    found.update(escape_errors(root, source if original is None else original, begin, end))
    found.update(invisible_errors(root, source, begin, end))
    found.update(token_errors(root, source, begin, end))
    return sorted(found)


def _keyword_name(root: Node, source: bytes, start: int, end: int) -> Iterator[LegacyError]:
    """``async`` or ``await`` at ``start``, not followed as the keyword is (``async def``,
    ``await x``): as a name (``x = async``, ``f(async=True)``, ``print(await)``), which
    tree-sitter reads as an identifier and CPython (3.7 on) and ruff reject. They point at
    ``async`` itself, but past an ``async`` that starts a line's statement (they read
    ``async def``, ``with`` or ``for`` there) and past an ``await`` (the operand it lacks)."""
    node = root.descendant_for_byte_range(start, end)
    if node is None or node.type != "identifier" or node.start_byte != start:
        return
    if source[start + 1 : start + 2] == b"w" or (
        _starts_line(source, start) and _starts_statement(node)
    ):
        while source[end : end + 1] in (b" ", b"\t", b"\f"):
            end += 1
        start = end
    yield start, end, "invalid syntax"


# Nodes in which every rule's candidate is text, not code.
_INERT = frozenset({"comment", "string_content"})


def _checks_by_kind(target: PythonVersion) -> tuple[Check, ...]:
    """The rule of each kind of candidate (``python_candidates``)."""
    line = _line_checks(target)
    return (
        *(line[name] for name in LINE_RULES),
        *_PATTERN_RULES,
        _backtick,
        _conversion,
        _keyword_name,
    )


# The rules of the candidates found by a pattern, in the order of their kinds (after
# ``LINE_RULES``; ``legacy_candidates``), then those found by a byte.
_PATTERN_RULES: tuple[Check, ...] = (
    _octal,
    _long,
    _not_equal,
    _walrus_statement,
    _continued_line,
    _keyword_eol,
    _as_expression,
    _prefix,
)
