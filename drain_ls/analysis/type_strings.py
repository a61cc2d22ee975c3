"""Strings read as type expressions, for the unused-import check (``imports``): a name
in ``"List[Foo]"`` uses an import of ``Foo``.

``_type_string`` says where ruff parses a string literal as a type expression (an
annotation, a ``TypeAlias`` value, the slice of a standard-library generic, the type
arguments of ``cast``, ``TypeVar``, ``NewType``... but never inside ``Literal[...]``);
``_expression_names`` parses one with ``ast`` and lists the names it loads, strings nested
in its type positions included. Whether a call or a subscript is typing's is what its head
resolves to where it is read (``typing_names``), as in ruff: not its name.
"""

from __future__ import annotations

import ast

from tree_sitter import Node

from drain_ls.analysis.import_scopes import _SCOPES, _is_field
from drain_ls.analysis.typing_names import Qualified, TypingNames

# ruff's ``is_standard_library_generic`` (crates/ruff_python_stdlib/src/typing.rs): a
# subscript of one of these, anywhere, makes its slice a type expression. By module ("" is
# the builtins), the names it holds.
_GENERIC_MEMBERS: dict[str, str] = {
    "": "dict frozenset list set tuple type",
    "collections": "ChainMap Counter OrderedDict defaultdict deque",
    "collections.abc": (
        "AsyncGenerator AsyncIterable AsyncIterator Awaitable ByteString Callable Collection "
        "Container Coroutine Generator ItemsView Iterable Iterator KeysView Mapping MappingView "
        "MutableMapping MutableSequence MutableSet Reversible Sequence Set ValuesView"
    ),
    "contextlib": "AbstractAsyncContextManager AbstractContextManager",
    "re": "Match Pattern",
    "typing": (
        "AbstractSet AsyncContextManager AsyncGenerator AsyncIterator Awaitable BinaryIO "
        "ByteString Callable ChainMap ClassVar Collection Concatenate Container ContextManager "
        "Coroutine Counter DefaultDict Deque Dict Final FrozenSet Generator Generic IO "
        "ItemsView Iterable Iterator KeysView List Mapping Match MutableMapping "
        "MutableSequence MutableSet Optional OrderedDict Pattern Reversible Sequence Set "
        "TextIO Tuple Type TypeGuard Union Unpack ValuesView"
    ),
    "typing.io": "BinaryIO IO TextIO",
    "typing.re": "Match Pattern",
    "typing_extensions": (
        "AsyncContextManager AsyncGenerator AsyncIterable AsyncIterator Awaitable ChainMap "
        "ClassVar Concatenate ContextManager Coroutine Counter DefaultDict Deque Type"
    ),
    "weakref": "WeakKeyDictionary WeakSet WeakValueDictionary",
}
# What a subscript's head is, by its qualified name: ``Literal[...]`` holds no type
# expression, ``Annotated[T, ...]`` only its first argument, a generic its whole slice.
_SUBSCRIPT_KINDS: dict[Qualified, str] = {
    **{
        (*(module.split(".") if module else ("",)), name): "generic"
        for module, names in _GENERIC_MEMBERS.items()
        for name in names.split()
    },
    **{(module, "Literal"): "literal" for module in ("typing", "typing_extensions")},
    **{(module, "Annotated"): "annotated" for module in ("typing", "typing_extensions")},
}
_SUBSCRIPT_MEMBERS = frozenset(q[-1] for q in _SUBSCRIPT_KINDS)
# Calls whose arguments may be type expressions (ruff's ``typing::Callable``), by their
# member name: typing's own (in ``typing``, ``typing_extensions`` or ``_typeshed``, ruff's
# ``match_typing_qualified_name``) and mypy_extensions' ``Arg`` family.
_TYPING_CALLS = frozenset(
    {"cast", "NewType", "TypeVar", "TypeAliasType", "NamedTuple", "TypedDict"}
)
_MYPY_ARGS = frozenset({"Arg", "DefaultArg", "NamedArg", "DefaultNamedArg", "VarArg", "KwArg"})
_TYPING_MODULES = frozenset({"typing", "typing_extensions", "_typeshed"})
_CALL_MEMBERS = _TYPING_CALLS | _MYPY_ARGS


def _typing_callee(qualified: Qualified) -> str | None:
    """The typing callable that ``qualified`` names (``cast``, ``Arg``...), if any."""
    if len(qualified) != 2:
        return None
    module, member = qualified
    if (module in _TYPING_MODULES and member in _TYPING_CALLS) or (
        module == "mypy_extensions" and member in _MYPY_ARGS
    ):
        return member
    return None


def _dotted(node: Node) -> tuple[list[str], Node] | None:
    """The names of an identifier or of a chain of attributes of one (``typing.List``), and
    that first identifier; None for any other expression."""
    parts: list[str] = []
    while node.type == "attribute":
        attribute = node.child_by_field_name("attribute")
        inner = node.child_by_field_name("object")
        if attribute is None or inner is None:
            return None
        parts.append((attribute.text or b"").decode())
        node = inner
    if node.type != "identifier":
        return None
    parts.append((node.text or b"").decode())
    parts.reverse()
    return parts, node


def _ast_dotted(node: ast.AST) -> list[str] | None:
    """``_dotted`` for an expression parsed from a string."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    parts.reverse()
    return parts


def _may_be(parts: list[str], members: frozenset[str], names: TypingNames) -> bool:
    """Whether the dotted name ``parts`` may name one of ``members`` (by its last name, or
    through an alias): only then is it resolved."""
    names.consulted.add(parts[0])
    return parts[-1] in members or (len(parts) == 1 and names.renamed(parts[0]))


def _subscript_kind(head: Node, names: TypingNames) -> str | None:
    """What the head of a subscript is (``_SUBSCRIPT_KINDS``), resolved where it is read."""
    dotted = _dotted(head)
    if dotted is None or not _may_be(dotted[0], _SUBSCRIPT_MEMBERS, names):
        return None
    return _SUBSCRIPT_KINDS.get(names.qualified(dotted[0], dotted[1]))


_NESTING = 20  # strings in strings parsed at most this deep


def _type_argument(
    callee: str, position: int | None, keyword: str | None, positionals: int
) -> bool:
    """Whether the argument (``position``-th positional, or ``keyword=``) of a call of
    ``callee`` is a type expression, as in ruff (NamedTuple's and TypedDict's positional
    arguments are left to the caller)."""
    if callee == "cast":
        return position == 0 or keyword == "typ"
    if callee == "NewType":
        return position == 1 or keyword == "tp"
    if callee == "TypeVar":
        return (position is not None and position >= 1) or keyword in ("bound", "default")
    if callee == "TypeAliasType":
        return position == 1 or keyword in ("value", "type_params")
    if callee in ("NamedTuple", "TypedDict"):
        return keyword is not None
    if callee in _MYPY_ARGS:
        return position == 0 or (keyword == "type" and positionals == 0)
    return False


def _callee(function: Node | None, names: TypingNames) -> str | None:
    """The typing callable that ``function`` names, resolved where it is read."""
    dotted = _dotted(function) if function is not None else None
    if dotted is None or not _may_be(dotted[0], _CALL_MEMBERS, names):
        return None
    return _typing_callee(names.qualified(dotted[0], dotted[1]))


def _call_decides(call: Node, path: list[Node], names: TypingNames) -> bool:
    """Whether the string at ``path[0]``, inside an argument of ``call`` (``path[-1]`` is the
    argument list), is a type expression."""
    callee = _callee(call.child_by_field_name("function"), names)
    if callee is None or len(path) < 2:
        return False  # any other call: its arguments are values
    argument = path[-2]
    keyword = None
    value = argument
    if argument.type == "keyword_argument":
        name = argument.child_by_field_name("name")
        keyword = (name.text or b"").decode() if name is not None else None
        value = argument.child_by_field_name("value") or argument
    elif argument.type in ("list_splat", "dictionary_splat"):
        return False
    position = None
    positionals = 0
    for child in path[-1].named_children:
        if child.type in ("keyword_argument", "list_splat", "dictionary_splat", "comment"):
            continue
        if child.id == argument.id:
            position = positionals
        positionals += 1
    if keyword is None and callee == "NamedTuple":
        # ``NamedTuple("N", [("a", TYPE), ...])``: the second item of each pair.
        if position == 1 and value.type in ("list", "tuple") and len(path) >= 4:
            items = path[-3].named_children if path[-3].type == "tuple" else []
            return len(items) == 2 and items[1].id == path[-4].id
        return False
    if keyword is None and callee == "TypedDict":
        # ``TypedDict("T", {"k": TYPE})``: the values of a dictionary.
        if len(path) >= 4 and value.type == "dictionary" and path[-3].type == "pair":
            return _is_field(path[-3], "value", path[-4])
        return False
    return _type_argument(callee, position, keyword, positionals)


def _type_string(string: Node, names: TypingNames) -> bool:
    """True when the string literal ``string`` is a type expression, where ruff parses a
    string for the names it uses: in an annotation (and a ``type`` statement or a type
    parameter), as the value of ``X: TypeAlias = ...``, in the slice of a standard-library
    generic (``list["X"]``, ``Optional["X"]``, anywhere), and in the type arguments of
    ``cast``, ``NewType``, ``TypeVar``, ``TypeAliasType``, ``NamedTuple``, ``TypedDict``
    and mypy_extensions' ``Arg`` family. Never inside ``Literal[...]``, in the metadata of
    ``Annotated[T, ...]`` or in the arguments of other calls.

    A subscript's head and a callee are what they resolve to where they are read
    (``typing_names``): ``from compat import TypeVar`` is not typing's ``TypeVar``, ``from
    typing import List as L`` is ``List``. Class bases of stubs are not type expressions here.
    """
    found = False
    path: list[Node] = []
    child = string
    parent = string.parent
    while parent is not None:
        path.append(child)
        kind = parent.type
        if kind == "type":
            found = True
        elif kind in ("generic_type", "subscript"):
            if kind == "generic_type":
                head = parent.named_children[0] if parent.named_child_count else None
                arguments = child.named_children if child.type == "type_parameter" else []
                argument = path[-2] if len(path) >= 2 else None
            else:
                head = parent.child_by_field_name("value")
                arguments = parent.children_by_field_name("subscript")
                argument = child
            if head is not None and head.id != child.id:
                what = _subscript_kind(head, names)
                if what == "literal":
                    return False
                if what == "annotated":
                    return (
                        bool(arguments) and argument is not None and arguments[0].id == argument.id
                    )
                if what == "generic":
                    return True
        elif kind == "argument_list":
            call = parent.parent
            if call is not None and call.type == "call":
                path.append(parent)
                return _call_decides(call, path, names)
        elif kind == "assignment":
            if _is_field(parent, "right", child):
                annotation = parent.child_by_field_name("type")
                return (
                    annotation is not None
                    and (annotation.text or b"").rsplit(b".", 1)[-1] == b"TypeAlias"
                )
            return found
        elif kind in ("expression_statement", "block", "module") or kind in _SCOPES:
            return found
        child = parent
        parent = parent.parent
    return found


def _string_value(string: Node) -> tuple[str, bool] | None:
    """The value of a str literal (implicit concatenation joined) and whether it is one
    triple-quoted part; None for bytes, f-strings and t-strings."""
    parts = string.named_children if string.type == "concatenated_string" else [string]
    values = []
    for part in parts:
        if part.type != "string":
            return None
        start = part.children[0] if part.child_count else None
        opening = (start.text or b"") if start is not None else b""
        if any(c in opening for c in b"bBfFtT"):
            return None
        try:
            value = ast.literal_eval((part.text or b"").decode())
        except (SyntaxError, ValueError, UnicodeDecodeError, MemoryError, RecursionError):
            return None
        if not isinstance(value, str):
            return None
        values.append(value)
    triple = len(parts) == 1 and (parts[0].text or b"").endswith((b'"""', b"'''"))
    return "".join(values), triple


def _expression_names(
    value: str, triple: bool, names: TypingNames, string: Node, depth: int
) -> set[str]:
    """The names a string type expression loads: each identifier that starts a dotted chain,
    and those of the strings nested in its type positions. Nothing when ruff's parse fails
    (F722), as with leading whitespace outside a triple-quoted string. ``string``: the
    literal it comes from (where the heads of its subscripts and calls are resolved)."""
    if depth > _NESTING or (not triple and value[:1].isspace()):
        return set()
    try:
        tree = ast.parse(f"({value}\n)" if triple else value, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    found: set[str] = set()
    try:
        _visit_type(tree.body, True, found, _InString(names, string), depth)
    except RecursionError:
        return set()
    return found


class _InString:
    """The heads of a string type expression, resolved once the string's scope is complete
    (ruff visits string annotations after the module)."""

    __slots__ = ("names", "string")

    def __init__(self, names: TypingNames, string: Node) -> None:
        self.names = names
        self.string = string

    def qualified(self, node: ast.AST, members: frozenset[str]) -> Qualified:
        parts = _ast_dotted(node)
        if parts is None or not _may_be(parts, members, self.names):
            return ()
        return self.names.qualified(parts, self.string, forward=True)


def _visit_type(
    node: ast.AST, typedef: bool, found: set[str], heads: _InString, depth: int
) -> None:
    """Collect the names of ``node``, parsing its strings where ``typedef`` holds."""
    if isinstance(node, ast.Name):
        found.add(node.id)
        return
    if isinstance(node, ast.Constant):
        if typedef and isinstance(node.value, str):
            found |= _expression_names(node.value, False, heads.names, heads.string, depth + 1)
        return
    if isinstance(node, ast.Subscript):
        _visit_type(node.value, typedef, found, heads, depth)
        what = _SUBSCRIPT_KINDS.get(heads.qualified(node.value, _SUBSCRIPT_MEMBERS))
        if what == "literal":
            _visit_type(node.slice, False, found, heads, depth)
        elif what == "annotated" and isinstance(node.slice, ast.Tuple) and node.slice.elts:
            for i, element in enumerate(node.slice.elts):
                _visit_type(element, i == 0, found, heads, depth)
        else:
            _visit_type(node.slice, typedef or what == "generic", found, heads, depth)
        return
    if isinstance(node, ast.Call):
        _visit_type(node.func, typedef, found, heads, depth)
        callee = _typing_callee(heads.qualified(node.func, _CALL_MEMBERS))
        positionals = len(node.args)
        for i, argument in enumerate(node.args):
            typed = callee is not None and _type_argument(callee, i, None, positionals)
            _visit_type(argument, typed, found, heads, depth)
        for keyword in node.keywords:
            typed = callee is not None and _type_argument(callee, None, keyword.arg, positionals)
            _visit_type(keyword.value, typed, found, heads, depth)
        return
    for child in ast.iter_child_nodes(node):
        _visit_type(child, typedef, found, heads, depth)
