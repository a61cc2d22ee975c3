"""Starred items where none may be, which tree-sitter-python accepts and CPython rejects, as
``E999`` errors of ``drain_ls.analysis.legacy``, in CPython's words and at its place:

- one starred item alone where only a tuple may hold it: ``x = *a``, ``return *a``, ``for x
  in *a:``, ``*a`` as a statement ("can't use starred expression here", the compiler's), or
  in parentheses without a comma, ``(*a)`` ("cannot use starred expression here", the
  parser's); ``*a = b`` and ``for *a in b:`` ("starred assignment target must be in a list
  or tuple"); ``*a += 1``;
- a starred item inside an expression: ``a + *b``, ``not *a``, ``f(x=*a)``, ``if *a:``,
  ``[i for i in *a]``, ``lambda: *a``, ``a[1:*b]`` ("invalid syntax", at the star);
- a starred item followed by what it may not be part of: ``[*a == b]``, ``[*a if b else
  c]``, ``{*a: 1}``, ``[*not a]`` (CPython stars a ``bitwise_or`` there: "invalid syntax", at
  the token that ends it), and ``{k: *v}``;
- ``**`` anywhere but a call's arguments and a dict: ``[**k]``, ``(**k)``, ``{a, **b}``.

A starred comprehension (``[*a for a in b]``) is ``drain_ls.analysis.arguments``'s, a starred
``del`` target ``drain_ls.analysis.store_targets``'s; a ``match`` subject and the fields of
f-strings are left alone (anywhere else the tree holds a star not listed here: left alone
too, never a false error). ``drain_ls.analysis.token_scan`` finds the stars to look at.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from drain_ls.analysis.source import field_of

Error = tuple[int, int, str]

STARRED = frozenset({"list_splat", "list_splat_pattern", "dictionary_splat"})

_HERE = "can't use starred expression here"  # the compiler's words
_PARENTHESIZED = "cannot use starred expression here"  # the parser's
_TARGET = "starred assignment target must be in a list or tuple"
_COMPREHENSION = "iterable unpacking cannot be used in comprehension"
_INVALID = "invalid syntax"

# Where a starred item may stand, as one item among others (checked below for the rest).
_ITEMS = frozenset(
    {
        "list",
        "set",
        "expression_list",
        "pattern_list",
        "list_pattern",
        "subscript",
        "argument_list",
        "tuple",
        "tuple_pattern",
        "parenthesized_expression",
        "parenthesized_list_splat",
        "dictionary",
        "pair",
        "assignment",
        "augmented_assignment",
        "return_statement",
        "yield",
        "for_statement",
        "for_in_clause",
        "expression_statement",
    }
)
# Where no starred item may stand: "invalid syntax" at the star.
_OPERANDS = frozenset(
    {
        "binary_operator",
        "unary_operator",
        "not_operator",
        "boolean_operator",
        "comparison_operator",
        "conditional_expression",
        "await",
        "if_statement",
        "elif_clause",
        "while_statement",
        "assert_statement",
        "raise_statement",
        "keyword_argument",
        "lambda",
        "slice",
        "if_clause",
        "named_expression",
    }
)
# What tree-sitter lets take in a star at its left that CPython's star takes in whole.
TIGHTER = frozenset({"binary_operator", "call", "subscript", "attribute"})
# What a star's operand may not be outside a call (CPython stars a ``bitwise_or`` there), and
# what it may not be followed by: "invalid syntax" at the token that shows it.
_LOOSE = frozenset(
    {"boolean_operator", "comparison_operator", "conditional_expression", "named_expression"}
)
_PREFIXED = frozenset({"not_operator", "lambda"})
_WRAPPING = TIGHTER | _LOOSE
_COMPREHENSIONS = frozenset({"generator_expression", "list_comprehension", "set_comprehension"})
# Where CPython's star takes any expression (``f(*a or b)``, ``a[*b == c]``); and the
# parentheses that make a tuple only with a comma.
_ANY_EXPRESSION = frozenset({"argument_list", "subscript", "type_parameter"})
_PARENTHESES = frozenset(
    {"tuple", "tuple_pattern", "parenthesized_expression", "parenthesized_list_splat"}
)


def starred_errors(star: Node) -> Iterator[Error]:
    """The error of one starred item (a node of a type in ``STARRED``), if any."""
    error = _error(star)
    if error is None:
        return
    statement = _statement_of(star)
    if statement is None:
        return  # (in an f-string's field)
    if statement.type == "delete_statement" and error[2] != _PARENTHESIZED:
        return  # (``del *a``, ``del [a + *b]``: drain_ls.analysis.store_targets)
    yield error


def _error(star: Node) -> Error | None:
    if _second_of_double(star):
        return None  # (``**``: the star before it is the item's)
    double = star.type == "list_splat" and _doubled(star)
    # tree-sitter stars a name and lets calls, subscripts and binary operators take it in
    # (``*f()`` is ``(*f)()``, ``*a + b`` is ``(*a) + b``); CPython stars the whole
    # ``bitwise_or``: go up to it.
    head = star
    parent = star.parent
    while parent is not None and parent.type in TIGHTER and _leftmost(parent, head):
        head, parent = parent, parent.parent
    if parent is None:
        return None
    kind = parent.type
    if kind in _LOOSE and _leftmost(parent, head) and not double:
        return _loose_item(star, head, parent)
    if kind == "slice" and _leftmost(parent, head):
        return _after(head, _INVALID)  # ``a[*b:1]``: at the colon
    if kind in _OPERANDS or (kind == "yield" and _has_token(parent, "from")):
        return _at(star, _INVALID)
    if kind == "with_item":
        # ``with *a:``; but ``with (*a, b):`` is a tuple, which tree-sitter reads as items
        clause = parent.parent
        parenthesized = clause is not None and _has_token(clause, "(")
        return None if parenthesized else _at(star, _INVALID)
    if kind not in _ITEMS:
        return None  # (anywhere else: never a false error)
    return _item_error(star, head, parent, double)


def _loose_item(star: Node, head: Node, parent: Node) -> Error | None:
    """``*a == b``, ``*a if b else c``, ``*a or b``: what CPython reads as a starred item that
    a loose operator follows (where an item may stand at all: ``[*a or b]``, at the operator;
    elsewhere, at the star: ``if *a or b:``). A call's and a subscript's star takes any
    expression."""
    outer = parent
    while outer.parent is not None and outer.parent.type in _LOOSE:
        if not _leftmost(outer.parent, outer):
            break
        outer = outer.parent
    holder = outer.parent
    if holder is None:
        return None
    kind = holder.type
    if _takes_any(holder):
        return None
    if kind in _COMPREHENSIONS and holder.child_by_field_name("body") == outer:
        return _at(star, _COMPREHENSION)
    if kind in ("parenthesized_expression", "parenthesized_list_splat") or (
        kind == "tuple" and not _has_token(holder, ",")
    ):
        return _at(star, _PARENTHESIZED)
    if kind == "slice" and _leftmost(holder, outer):
        return _after(outer, _INVALID)
    if kind == "for_in_clause" and field_of(holder, outer) != "left":
        return _at(star, _INVALID)  # ``[y for y in *a < b]``: CPython's iterable is no item
    if kind in _ITEMS and not (kind == "yield" and _has_token(holder, "from")):
        return _after(head, _INVALID)
    return _at(star, _INVALID)


def _item_error(star: Node, head: Node, parent: Node, double: bool) -> Error | None:
    """A starred item that stands where items do (``parent`` holds it, or ``head``, the
    binary operation it begins)."""
    kind = parent.type
    operand = star.named_children[0] if star.named_children else None
    if operand is not None and operand.type == "named_expression" and operand.named_children:
        return _after(operand.named_children[0], _INVALID)  # ``[*a := b]``: at the ``:=``
    if _takes_any(parent):
        return None  # (the order of a call's arguments: drain_ls.analysis.arguments)
    if kind in _PARENTHESES:
        alone = kind == "parenthesized_list_splat" or not _has_token(parent, ",")
        if double:
            return _at(star, "cannot use double starred expression here" if alone else _INVALID)
        if alone:
            return _item(star, head, _PARENTHESIZED)
    elif double:
        return _at(star, _INVALID)
    if operand is not None and operand.type in _PREFIXED:
        return _at(operand, _INVALID)  # ``[*not a]``, ``[*lambda: a]``
    if operand is not None and operand.type in _LOOSE and operand.named_children:
        return _after(operand.named_children[0], _INVALID)  # ``{**a or b}``
    if kind == "pair":
        if parent.child_by_field_name("value") == head:
            return _at(star, "cannot use a starred expression in a dictionary value")
        return _after(head, _INVALID)  # ``{*a: 1}``: at the colon
    field = field_of(parent, head)
    if kind == "assignment" and field == "left" and parent.child_by_field_name("type"):
        return _after(head, _INVALID)  # ``*a: int``: at the colon
    if kind in ("assignment", "for_statement", "for_in_clause") and field == "left":
        return _item(star, head, _TARGET)
    if kind == "augmented_assignment" and field == "left":
        return _at(star, "'starred' is an illegal expression for augmented assignment")
    if kind == "for_in_clause":
        # ``[x for x in *a]``: CPython's iterable is no item (``[x for x in a, *b]``: the
        # comma's error first, drain_ls.analysis.arguments)
        first = parent.child_by_field_name("right") == head
        return _at(star, _INVALID) if first else None
    if kind in ("assignment", "augmented_assignment", "for_statement") and field != "right":
        return None
    if kind in ("assignment", "augmented_assignment", "return_statement", "yield"):
        return _item(star, head, _HERE)
    if kind == "for_statement" or (kind == "expression_statement" and not _has_token(parent, ",")):
        return _item(star, head, _HERE)  # (``*a, b`` is a tuple, ``*a`` alone is not)
    return None


def _takes_any(node: Node) -> bool:
    """Whether a star in ``node`` takes any expression: a call's, a subscript's (in an
    annotation too: ``Callable[*a or b]``)."""
    if node.type == "type":
        return node.parent is not None and node.parent.type == "type_parameter"
    return node.type in _ANY_EXPRESSION


def _doubled(star: Node) -> bool:
    """Whether ``star`` is the first of ``**`` outside a call and a dict: tree-sitter reads
    ``[**k]`` as a star of a star, ``[**x.y]`` and ``[**b == c]`` as a star of what a star
    begins."""
    child = star.named_children[0] if star.named_children else None
    while child is not None and child.type != "list_splat" and child.type in _WRAPPING:
        child = child.named_children[0] if child.named_children else None
    return (
        child is not None and child.type == "list_splat" and child.start_byte == star.start_byte + 1
    )


def _second_of_double(star: Node) -> bool:
    """Whether ``star`` is the second star of such a ``**``."""
    node = star.parent
    while node is not None and node.type in _WRAPPING and node.start_byte == star.start_byte:
        node = node.parent
    return node is not None and node.type == "list_splat" and node.start_byte == star.start_byte - 1


def _leftmost(parent: Node, child: Node) -> bool:
    return parent.start_byte == child.start_byte


def _has_token(node: Node, text: str) -> bool:
    return any(child.type == text for child in node.children)


def _at(node: Node, message: str) -> Error:
    return node.start_byte, node.end_byte, message


def _item(star: Node, head: Node, message: str) -> Error:
    """Over the starred item: from the star to the end of what it stars (tree-sitter may read
    ``*x.y`` as ``(*x).y`` or as ``*(x.y)``: ``head`` ends where CPython's item does)."""
    return star.start_byte, max(star.end_byte, head.end_byte), message


def _after(node: Node, message: str) -> Error | None:
    """At the token that follows ``node`` (what ends a starred item: ``==``, ``if``, ``:``)."""
    following = node.next_sibling
    if following is None:
        return None
    return following.start_byte, following.end_byte, message


def _statement_of(node: Node) -> Node | None:
    """The statement that holds ``node``; None inside an f-string's field (which the C scan
    does not read)."""
    while node.parent is not None and node.parent.type not in ("module", "block"):
        node = node.parent
        if node.type == "interpolation":
            return None
    return node
