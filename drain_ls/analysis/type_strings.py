"""Strings read as type expressions, for the unused-import check (``imports``): a name
in ``"List[Foo]"`` uses an import of ``Foo``.

``_type_string`` says where ruff parses a string literal as a type expression (an
annotation, a ``TypeAlias`` value, the slice of a standard-library generic, the type
arguments of ``cast``, ``TypeVar``, ``NewType``... but never inside ``Literal[...]``);
``_expression_names`` parses one with ``ast`` and lists the names it loads, strings nested
in its type positions included.
"""

from __future__ import annotations

import ast
import re

from tree_sitter import Node

from drain_ls.analysis.import_scopes import _SCOPES, _is_field

# ``is_standard_library_generic_member`` in ruff (crates/ruff_python_stdlib/src/typing.rs): a
# subscript of one of these, anywhere, makes its slice a type expression.
_GENERICS = frozenset(
    {
        "dict", "frozenset", "list", "set", "tuple", "type", "defaultdict", "deque",
        "AbstractAsyncContextManager", "AbstractContextManager", "AbstractSet",
        "AsyncContextManager", "AsyncGenerator", "AsyncIterable", "AsyncIterator", "Awaitable",
        "BinaryIO", "ByteString", "Callable", "ChainMap", "ClassVar", "Collection",
        "Concatenate", "Container", "ContextManager", "Coroutine", "Counter", "DefaultDict",
        "Deque", "Dict", "Final", "FrozenSet", "Generator", "Generic", "IO", "ItemsView",
        "Iterable", "Iterator", "KeysView", "List", "Mapping", "MappingView", "Match",
        "MutableMapping", "MutableSequence", "MutableSet", "Optional", "OrderedDict", "Pattern",
        "Reversible", "Sequence", "Set", "TextIO", "Tuple", "Type", "TypeGuard", "Union",
        "Unpack", "ValuesView", "WeakKeyDictionary", "WeakSet", "WeakValueDictionary",
    }
)  # fmt: skip
# Calls whose arguments may be type expressions (ruff's ``typing::Callable``), by the
# callee's last name; an attribute callee must be on one of ``_CALLEE_MODULES``.
_TYPING_CALLS = frozenset(
    {"cast", "NewType", "TypeVar", "TypeAliasType", "NamedTuple", "TypedDict"}
)
_MYPY_ARGS = frozenset({"Arg", "DefaultArg", "NamedArg", "DefaultNamedArg", "VarArg", "KwArg"})
_CALLEE_MODULES = frozenset({b"typing", b"typing_extensions", b"_typeshed", b"mypy_extensions"})
_TYPING_ALIAS = re.compile(rb"import\s+(?:typing|typing_extensions)\s+as\s+(\w+)")


class _TypingAliases:
    """The names of ``import typing as t`` (or typing_extensions) in a file, found when
    first asked for: most files never ask."""

    __slots__ = ("names", "source")

    def __init__(self, source: bytes) -> None:
        self.source = source
        self.names: frozenset[bytes] | None = None

    def __contains__(self, module: object) -> bool:
        if self.names is None:
            self.names = frozenset(_TYPING_ALIAS.findall(self.source))
        return module in self.names


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


def _callee(function: Node | None, aliases: _TypingAliases) -> str | None:
    """The typing callable that ``function`` names: its last name, for a bare name or an
    attribute of a typing module (or of a module alias ``import typing as t``)."""
    if function is None:
        return None
    if function.type == "identifier":
        name = (function.text or b"").decode()
    elif function.type == "attribute":
        obj = function.child_by_field_name("object")
        attribute = function.child_by_field_name("attribute")
        if obj is None or attribute is None or obj.type != "identifier":
            return None
        module = obj.text or b""
        if module not in _CALLEE_MODULES and module not in aliases:
            return None
        name = (attribute.text or b"").decode()
    else:
        return None
    return name if name in _TYPING_CALLS or name in _MYPY_ARGS else None


def _call_decides(call: Node, path: list[Node], aliases: _TypingAliases) -> bool:
    """Whether the string at ``path[0]``, inside an argument of ``call`` (``path[-1]`` is the
    argument list), is a type expression."""
    callee = _callee(call.child_by_field_name("function"), aliases)
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


def _type_string(string: Node, aliases: _TypingAliases) -> bool:
    """True when the string literal ``string`` is a type expression, where ruff parses a
    string for the names it uses: in an annotation (and a ``type`` statement or a type
    parameter), as the value of ``X: TypeAlias = ...``, in the slice of a standard-library
    generic (``list["X"]``, ``Optional["X"]``, anywhere), and in the type arguments of
    ``cast``, ``NewType``, ``TypeVar``, ``TypeAliasType``, ``NamedTuple``, ``TypedDict``
    and mypy_extensions' ``Arg`` family. Never inside ``Literal[...]``, in the metadata of
    ``Annotated[T, ...]`` or in the arguments of other calls.

    Simplifications: a subscript's head and a bare callee are known by their last name
    alone (ruff resolves them to typing, which ``from typing import cast as c`` defeats
    here); class bases of stubs are not type expressions here.
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
                base = (head.text or b"").rsplit(b".", 1)[-1].decode()
                if base == "Literal":
                    return False
                if base == "Annotated":
                    return (
                        bool(arguments) and argument is not None and arguments[0].id == argument.id
                    )
                if base in _GENERICS:
                    return True
        elif kind == "argument_list":
            call = parent.parent
            if call is not None and call.type == "call":
                path.append(parent)
                return _call_decides(call, path, aliases)
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


def _expression_names(value: str, triple: bool, aliases: _TypingAliases, depth: int) -> set[str]:
    """The names a string type expression loads: each identifier that starts a dotted chain,
    and those of the strings nested in its type positions. Nothing when ruff's parse fails
    (F722), as with leading whitespace outside a triple-quoted string."""
    if depth > _NESTING or (not triple and value[:1].isspace()):
        return set()
    try:
        tree = ast.parse(f"({value}\n)" if triple else value, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return set()
    names: set[str] = set()
    try:
        _visit_type(tree.body, True, names, aliases, depth)
    except RecursionError:
        return set()
    return names


def _visit_type(
    node: ast.AST, typedef: bool, names: set[str], aliases: _TypingAliases, depth: int
) -> None:
    """Collect the names of ``node``, parsing its strings where ``typedef`` holds."""
    if isinstance(node, ast.Name):
        names.add(node.id)
        return
    if isinstance(node, ast.Constant):
        if typedef and isinstance(node.value, str):
            names |= _expression_names(node.value, False, aliases, depth + 1)
        return
    if isinstance(node, ast.Subscript):
        _visit_type(node.value, typedef, names, aliases, depth)
        head = node.value
        base = head.id if isinstance(head, ast.Name) else getattr(head, "attr", None)
        if base == "Literal":
            _visit_type(node.slice, False, names, aliases, depth)
        elif base == "Annotated" and isinstance(node.slice, ast.Tuple) and node.slice.elts:
            for i, element in enumerate(node.slice.elts):
                _visit_type(element, i == 0, names, aliases, depth)
        else:
            _visit_type(node.slice, typedef or base in _GENERICS, names, aliases, depth)
        return
    if isinstance(node, ast.Call):
        _visit_type(node.func, typedef, names, aliases, depth)
        function = node.func
        if isinstance(function, ast.Name):
            callee: str | None = function.id
        elif isinstance(function, ast.Attribute) and isinstance(function.value, ast.Name):
            module = function.value.id.encode()
            ok = module in _CALLEE_MODULES or module in aliases
            callee = function.attr if ok else None
        else:
            callee = None
        positionals = len(node.args)
        for i, argument in enumerate(node.args):
            typed = callee is not None and _type_argument(callee, i, None, positionals)
            _visit_type(argument, typed, names, aliases, depth)
        for keyword in node.keywords:
            typed = callee is not None and _type_argument(callee, None, keyword.arg, positionals)
            _visit_type(keyword.value, typed, names, aliases, depth)
        return
    for child in ast.iter_child_nodes(node):
        _visit_type(child, typedef, names, aliases, depth)
