"""Argument and parameter lists that tree-sitter-python accepts and CPython rejects, as
``E999`` errors of ``drain_ls.analysis.legacy``, in CPython's words (3.12+), at the argument
or parameter that ruff points at:

- in a call or a class's bases: a positional argument after a keyword argument or after
  ``**`` (``f(x=1, y)``, ``f(**k, y)``), ``*`` after ``**`` (``f(**k, *a)``), a keyword
  repeated (``f(a=1, a=2)``), a generator beside other arguments (``f(x for x in y, 1)``);
- in a comprehension, a starred item (``[*a for a in b]``), a comma after its ``in``
  (``[x for x in y, 1]``), a ``lambda`` as its iterable or a condition (``[x for x in lambda:
  y]``);
- in the parameters of a ``def`` or a ``lambda``: one without a default after one with a
  default (``def f(a=1, b)``, ``lambda a=1, b: 0``), a bare ``*`` with no keyword parameter
  after it (``def f(*, **k)``), a parameter after ``**kwargs``, ``/`` first, twice or after
  ``*``, ``*`` twice, a name given twice (``def f(a, a)``; names compared NFKC-normalised, as
  Python reads them).

``drain_ls.analysis.token_scan`` finds the lists to look at (a C scan of the source's tokens,
or a query of the tree) and gives each to ``list_errors``.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from drain_ls.analysis.source import normalize_identifier

DEFAULT_ORDER = "parameter without a default follows parameter with a default"
_DEFAULTS = frozenset({"default_parameter", "typed_default_parameter"})
_SPLATS = frozenset({"list_splat_pattern", "dictionary_splat_pattern"})
_COMPREHENSIONS = frozenset(
    {"generator_expression", "list_comprehension", "set_comprehension", "dictionary_comprehension"}
)
LISTS = frozenset({"argument_list", "parameters", "lambda_parameters"}) | _COMPREHENSIONS
_NOT_ARGUMENTS = frozenset({"comment", "line_continuation"})

Error = tuple[int, int, str]


def list_errors(node: Node) -> Iterator[Error]:
    """The errors of one argument list, comprehension or parameter list (a node of a type in
    ``LISTS``)."""
    kind = node.type
    if kind == "argument_list":
        yield from _call_errors(node)
    elif kind in _COMPREHENSIONS:
        yield from _comprehension_errors(node)
    elif kind in ("parameters", "lambda_parameters"):
        yield from _parameter_errors(node)


def _call_errors(arguments: Node) -> Iterator[Error]:
    """An argument list: positional or ``*`` after what may not precede it, keywords
    repeated. (A generator as the only argument is the call's arguments node itself.)"""
    keyword = double_star = False
    names: set[str] = set()
    order: list[Error] = []
    repeated: list[Error] = []
    for child in arguments.named_children:
        kind = child.type
        if kind in _NOT_ARGUMENTS:
            continue
        if kind == "keyword_argument":
            keyword = True
            name = child.child_by_field_name("name")
            if name is not None and name.text is not None:
                text = normalize_identifier(name.text.decode("utf-8", "replace"))
                if text in names:
                    repeated.append(
                        (child.start_byte, child.end_byte, f"keyword argument repeated: {text}")
                    )
                names.add(text)
        elif kind == "dictionary_splat":
            double_star = True
        elif kind == "list_splat":
            if double_star:
                message = "iterable argument unpacking follows keyword argument unpacking"
                order.append((child.start_byte, child.end_byte, message))
        elif double_star:
            message = "positional argument follows keyword argument unpacking"
            order.append((child.start_byte, child.end_byte, message))
        elif keyword:
            message = "positional argument follows keyword argument"
            order.append((child.start_byte, child.end_byte, message))
    # (A keyword repeated is an error of CPython's compiler: the parser's come first.)
    yield from order[:1] or repeated


def _comprehension_errors(node: Node) -> Iterator[Error]:
    """A starred item as what a comprehension makes (``[*a for a in b]``), a comma right in a
    ``for`` clause, after its ``in`` (tree-sitter reads ``f(x for x in y, 1)`` as one
    generator over ``y, 1``), and a ``lambda`` as an iterable or a condition."""
    body = node.child_by_field_name("body")
    if body is not None and body.type == "list_splat":
        message = "iterable unpacking cannot be used in comprehension"
        yield body.start_byte, body.end_byte, message
        return
    for clause in node.named_children:
        # ``[x for x in lambda: y]``, ``[x for x in y if lambda: z]``: CPython's iterable and
        # condition are no ``lambda`` (tree-sitter's are)
        if clause.type == "if_clause":
            test = clause.named_children[0] if clause.named_children else None
            if test is not None and test.type == "lambda":
                yield test.start_byte, test.end_byte, "invalid syntax"
                return
        if clause.type != "for_in_clause":
            continue
        iterable = clause.child_by_field_name("right")
        if iterable is not None and iterable.type == "lambda":
            yield iterable.start_byte, iterable.end_byte, "invalid syntax"
            return
        comma = next((c for c in clause.children if c.type == ","), None)
        if comma is None:
            continue
        parent = node.parent
        if node.type == "generator_expression" and parent is not None and parent.type == "call":
            first = node.named_children[0]
            yield first.start_byte, comma.start_byte, "Generator expression must be parenthesized"
        else:
            yield comma.start_byte, comma.end_byte, "invalid syntax"
        return


def first_offender(parameters: Node) -> Node | None:
    """The first parameter without a default after one with a default, if any, before any
    ``*``, ``*args`` or ``**kwargs`` (keyword-only parameters need no default)."""
    seen_default = False
    for child in parameters.named_children:
        kind = child.type
        if kind in _DEFAULTS:
            seen_default = True
        elif kind in _SPLATS or kind == "keyword_separator":
            return None
        elif kind == "typed_parameter":
            first = child.named_children[0] if child.named_child_count else None
            if first is not None and first.type in _SPLATS:
                return None
            if seen_default:
                return child
        elif kind == "identifier" and seen_default:
            return child
    return None


def _parameter_errors(parameters: Node) -> Iterator[Error]:
    """The first parameter out of CPython's order (``a, /, b, *c, d, **e``; a bare ``*`` needs
    a keyword parameter after it; defaults in order, ``first_offender``), and each name given
    twice."""
    children = [c for c in parameters.named_children if c.type not in _NOT_ARGUMENTS]
    order: list[Error] = []
    offender = first_offender(parameters)
    if offender is not None:
        order.append((offender.start_byte, offender.end_byte, DEFAULT_ORDER))
    names: set[str] = set()
    repeated: list[Error] = []
    star = slash = kwargs = False
    for at, child in enumerate(children):
        kind = _kind_of(child)
        message = None
        if kwargs:
            message = "arguments cannot follow var-keyword argument"
        elif kind == "positional_separator":
            if at == 0:
                alone = len(children) == 1
                message = "invalid syntax" if alone else "at least one argument must precede /"
            elif slash:
                message = "/ may appear only once"
            elif star:
                message = "/ must be ahead of *"
            slash = True
        elif kind in ("keyword_separator", "list_splat_pattern"):
            following = children[at + 1] if at + 1 < len(children) else None
            if star:
                # (CPython's rule wants a name or a comma after the second: else, no rule)
                last = following is None and (
                    child.next_sibling is None or child.next_sibling.type != ","
                )
                message = (
                    "invalid syntax"
                    if kind == "keyword_separator" and last
                    else ("* argument may appear only once")
                )
            elif kind == "keyword_separator" and (
                following is None or _kind_of(following) == "dictionary_splat_pattern"
            ):
                message = "named arguments must follow bare *"
            star = True
        elif kind == "dictionary_splat_pattern":
            kwargs = True
        if message is not None:
            order.append((child.start_byte, child.end_byte, message))
        name = _name_of(child)
        if name is None or name.text is None:
            continue
        text = normalize_identifier(name.text.decode("utf-8", "replace"))
        if text in names:
            repeated.append(
                (
                    name.start_byte,
                    name.end_byte,
                    f"duplicate argument '{text}' in function definition",
                )
            )
        names.add(text)
    # CPython's parser stops at the first error of the order; names given twice are its
    # compiler's, which a list out of order never reaches.
    yield from [min(order)] if order else repeated


def _kind_of(parameter: Node) -> str:
    """A parameter's kind, through its annotation (``*args: int`` is a ``*args``)."""
    if parameter.type == "typed_parameter" and parameter.named_child_count:
        return parameter.named_children[0].type
    return parameter.type


def _name_of(parameter: Node) -> Node | None:
    """The identifier a parameter binds, if it binds one."""
    kind = parameter.type
    if kind == "identifier":
        return parameter
    if kind in _DEFAULTS:
        return parameter.child_by_field_name("name")
    if kind == "typed_parameter" and parameter.named_child_count:
        return _name_of(parameter.named_children[0])
    if kind in _SPLATS and parameter.named_child_count:
        inner = parameter.named_children[0]
        return inner if inner.type == "identifier" else None
    return None
