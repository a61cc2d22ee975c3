"""Missing docstrings (D100-D107), with ruff's (pydocstyle's) semantics.

A docstring is a first statement that is a plain string literal: implicit concatenation and
parentheses count, f-strings and bytes do not. Only public definitions need one:

- a module is private when its file name, or the name of any package above it (directories
  with an ``__init__.py``), starts with one underscore (dunders such as ``__init__`` are
  public); everything in a private module is private;
- classes and functions whose name starts with ``_`` are private (dunders too, such as a
  module's ``__getattr__``), and when the module defines
  ``__all__``, so is every class and function it does not list;
- methods: dunders are public (``__init__`` is D107, ``__call__`` and ``__new__`` D102, the
  others magic, D105), other names
  starting with ``_`` private, ``@x.setter``/``@x.deleter`` private, everything in a private
  class private; nested classes (D106) follow the class around them;
- anything defined inside a function is private;
- ``@overload`` definitions (imported from ``typing`` or ``typing_extensions``) are exempt,
  and so are ``@override`` methods (not functions: ruff exempts only D102).

Definitions inside ``if``/``try``/``with``/``for``/``while``/``match`` blocks count as members
of the module or class around them. The walk visits module and class bodies only (never a
function body), statement by statement, so its cost follows the number of definitions.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath

from tree_sitter import Node

from drain_ls.analysis.exports import is_plain_string
from drain_ls.analysis.grammar_gaps import normalize_lone_cr
from drain_ls.analysis.import_statements import (
    ImportBinding,
    find_import_statements,
    import_bindings,
)
from drain_ls.analysis.imports import dunder_all
from drain_ls.analysis.model import Finding, Fix
from drain_ls.analysis.native import NATIVE
from drain_ls.analysis.skeletons import definition_docstring_fix, module_docstring_fix
from drain_ls.analysis.source import Syntax, normalize_identifier

MESSAGES = {
    "D100": "Missing docstring in public module",
    "D101": "Missing docstring in public class",
    "D102": "Missing docstring in public method",
    "D103": "Missing docstring in public function",
    "D104": "Missing docstring in public package",
    "D105": "Missing docstring in magic method",
    "D106": "Missing docstring in public nested class",
    "D107": "Missing docstring in `__init__`",
}

# Compound statements whose blocks hold members of the scope around them.
_COMPOUND = frozenset(
    {
        "if_statement",
        "try_statement",
        "with_statement",
        "for_statement",
        "while_statement",
        "match_statement",
        "case_clause",
    }
)
# The statement types that can be, or hold, a class or function definition.
MEMBER_HOLDERS = _COMPOUND | {"function_definition", "class_definition", "decorated_definition"}
_CLAUSES = frozenset(
    {
        "elif_clause",
        "else_clause",
        "except_clause",
        "except_group_clause",
        "finally_clause",
        "case_clause",
        "block",
    }
)
_TYPING_MODULES = frozenset({"typing", "typing_extensions"})
# pydocstyle's "variadic" magic methods are ordinary public methods (D102), not D105.
_VARIADIC = frozenset({"__call__", "__new__"})


def is_private_name(name: str) -> bool:
    """``_x`` is private; dunders (``__init__``) are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def is_private_module(path: str) -> bool:
    """True when the module or any package above it has a private name."""
    # os.path rather than pathlib: this runs once per checked file, and pathlib's objects
    # cost more than the stat calls themselves.
    name = os.path.basename(path).rsplit(".", 1)[0]
    if is_private_name(name):
        return True
    try:
        directory = os.path.dirname(os.path.abspath(path))
        while os.path.isfile(os.path.join(directory, "__init__.py")):
            if is_private_name(os.path.basename(directory)):
                return True
            parent = os.path.dirname(directory)
            if parent == directory:
                break
            directory = parent
    except (OSError, ValueError):
        return False
    return False


def first_statement(container: Node) -> Node | None:
    """The first statement of a module or block, comments skipped."""
    # Sibling by sibling: named_children would make a node of every statement of the body.
    count = container.named_child_count
    child = container.named_child(0) if count else None
    index = 0
    while child is not None and child.type == "comment":
        index += 1
        child = child.next_named_sibling
        if child is None and index < count:
            # The last of a chunk's statements (an editor's large file is a forest of chunks,
            # drain_ls.analysis.forest): the next chunk's first.
            child = container.named_child(index)
    return child


def has_docstring(container: Node | None) -> bool:
    """Whether a module or block starts with a docstring."""
    if container is None:
        return False
    first = first_statement(container)
    while first is not None and first.type == "ERROR":
        # tree-sitter wrapped the statements in an error (a gap of its grammar that Python
        # compiles: Lib/test/test_compile.py): the first of them is still the container's.
        first = first_statement(first)
    if first is None or first.type != "expression_statement" or first.named_child_count != 1:
        return False
    value = first.named_child(0)
    while (
        value is not None
        and value.type == "parenthesized_expression"
        and value.named_child_count == 1
    ):
        value = value.named_child(0)
    return (
        value is not None
        and value.type in ("string", "concatenated_string")
        and is_plain_string(value)
    )


class _Decorators:
    """Which decorator spellings mean ``typing.overload`` / ``typing.override`` here."""

    def __init__(
        self, root: Node, source: bytes, bindings: list[ImportBinding] | None = None
    ) -> None:
        self.names: dict[str, set[str]] = {"overload": set(), "override": set()}
        self.modules: set[str] = set()
        # Spellings also bound otherwise: each binding's offset and whether it is typing's.
        self.shadowed: dict[str, tuple[tuple[int, bool], ...]] = {}
        if b"overload" not in source and b"override" not in source:
            return
        if bindings is None:
            bindings = [b for s in find_import_statements(root, source) for b in import_bindings(s)]
        for binding in bindings:
            qualified = binding.qualified
            if qualified in _TYPING_MODULES:
                self.modules.add(binding.name)
                continue
            module, _, attribute = qualified.rpartition(".")
            if module in _TYPING_MODULES and attribute in self.names:
                self.names[attribute].add(binding.name)
        # A spelling also bound otherwise (``else: def overload(f): ...`` beside a typing
        # import under ``if TYPE_CHECKING:``): what a decorator means is the last binding
        # before it, as ruff resolves it there.
        for name in self.names["overload"] | self.names["override"]:
            timeline = [(m.start(), False) for m in _other_bindings(name).finditer(source)]
            for binding in bindings:
                if binding.name == name:
                    module, _, attribute = binding.qualified.rpartition(".")
                    typing = module in _TYPING_MODULES and attribute in self.names
                    timeline.append((binding.statement.start_byte, typing))
            if not all(typing for _, typing in timeline):
                self.shadowed[name] = tuple(sorted(timeline))


def _other_bindings(name: str) -> re.Pattern[bytes]:
    """A ``def``, ``class`` or assignment of ``name`` at the start of a line."""
    word = re.escape(name.encode())
    return re.compile(
        rb"^[ \t]*(?:(?:async[ \t]+)?def[ \t]+|class[ \t]+)" + word + rb"(?![\w\x80-\xff])"
        rb"|^[ \t]*" + word + rb"[ \t]*(?::[^=\r\n]*)?=(?!=)",
        re.MULTILINE,
    )


def _decorator_text(decorator: Node) -> str:
    expression = decorator.named_children[0] if decorator.named_child_count else None
    if expression is None or expression.text is None:
        return ""
    return "".join(expression.text.decode("utf-8", errors="replace").split())


def _is_property_mutator(name: str, decorators: list[Node]) -> bool:
    for decorator in decorators:
        text = _decorator_text(decorator)
        if text in (f"{name}.setter", f"{name}.deleter"):
            return True
    return False


# In ``MemberContext.overloads``: the name after it exempts methods only.
METHOD_ONLY = "method:"


@dataclass(frozen=True, slots=True)
class MemberContext:
    """What decides, besides a definition itself, whether it is public: ``__all__`` and which
    decorators mean ``@overload``/``@override``. Hashable, to key caches on."""

    exported: frozenset[str] | None
    # The decorator spellings that exempt a definition: a name exempts any (``overload``),
    # a name after ``METHOD_ONLY`` only methods (``override``).
    overloads: frozenset[str]
    modules: frozenset[str]
    # Spellings bound otherwise too: each binding's offset, and whether it is typing's.
    shadowed: tuple[tuple[str, tuple[tuple[int, bool], ...]], ...] = ()


def member_context(
    root: Node,
    source: bytes,
    bindings: list[ImportBinding] | None = None,
    exported: frozenset[str] | None = None,
    exports_known: bool = False,
) -> MemberContext:
    """The context of the module-level members of ``root``.

    Callers that already have the import bindings or ``__all__`` pass them in.
    """
    if not exports_known:
        exported = dunder_all(root, source)
    decorators = _Decorators(root, source, bindings)
    overrides = {METHOD_ONLY + name for name in decorators.names["override"]}
    return MemberContext(
        exported,
        frozenset(decorators.names["overload"] | overrides),
        frozenset(decorators.modules),
        tuple(sorted(decorators.shadowed.items())),
    )


def module_finding(
    root: Node, source: bytes, path: str, private: bool | None = None
) -> Finding | None:
    """D100/D104 when the module (or package) is public and has no docstring.

    ``private`` is ``is_private_module(path)`` when the caller already knows it.
    """
    if private is None:
        private = is_private_module(path)
    if private or has_docstring(root):
        return None
    pure = PurePath(path)
    package = pure.name == "__init__.py"
    name = pure.parent.name if package else pure.stem
    code = "D104" if package else "D100"
    return Finding(
        code,
        MESSAGES[code],
        0,
        0,
        noqa_offsets=(0,),
        fix=module_docstring_fix(root, source, name or "module", package),
        data={"kind": "package" if package else "module", "qualname": name},
    )


def find_missing_docstrings(
    tree: Syntax, source: bytes, path: str, *, style: str = "google"
) -> list[Finding]:
    """D100-D107 findings, each with a fix that inserts a skeleton docstring."""
    root = tree.root_node
    findings: list[Finding] = []
    module = module_finding(root, source, path)
    if module is not None:
        findings.append(module)
    if is_private_module(path):
        return findings
    context = member_context(root, source)
    for statement in root.named_children:
        findings.extend(statement_findings(statement, source, context, style))
    return findings


def statement_findings(
    top: Node,
    source: bytes,
    context: MemberContext,
    style: str = "google",
    exportable: list[str] | None = None,
) -> list[Finding]:
    """The D101-D107 findings of one module-level statement (and everything inside it).

    ``exportable`` receives the names of the module-level definitions whose findings depend
    on whether ``__all__`` lists them.
    """
    findings: list[Finding] = []
    exported = context.exported
    # (statements, owner: "module" | "class", owner private, qualified prefix)
    stack: list[tuple[list[Node], str, bool, str]] = [([top], "module", False, "")]
    while stack:
        statements, owner, owner_private, prefix = stack.pop()
        for statement in statements:
            kind = statement.type
            decorators: list[Node] = []
            definition = statement
            if kind == "decorated_definition":
                decorators = [c for c in statement.named_children if c.type == "decorator"]
                inner = statement.child_by_field_name("definition")
                if inner is None:
                    continue
                definition = inner
                kind = inner.type
            if kind in _COMPOUND:
                _push_blocks(statement, stack, owner, owner_private, prefix)
                continue
            if kind not in ("function_definition", "class_definition"):
                continue
            name_node = definition.child_by_field_name("name")
            if name_node is None or name_node.text is None:
                continue
            name = name_node.text.decode("utf-8", errors="replace")
            if not name.isascii():
                name = normalize_identifier(name)  # as Python reads it
            qualname = prefix + name
            if kind == "class_definition":
                if owner == "module":
                    private = name.startswith("_") or (
                        exported is not None and name not in exported
                    )
                    if exportable is not None and not name.startswith("_"):
                        exportable.append(name)
                    code = "D101"
                else:
                    private = owner_private or name.startswith("_")
                    code = "D106"
                body = definition.child_by_field_name("body")
                if body is not None:
                    stack.append((body.named_children, "class", private, qualname + "."))
                if private or has_docstring(body):
                    continue
            else:
                if decorators and _exempt(decorators, context, owner == "class"):
                    continue
                if owner == "module":
                    private = name.startswith("_") or (
                        exported is not None and name not in exported
                    )
                    if exportable is not None and not name.startswith("_"):
                        exportable.append(name)
                    code = "D103"
                else:
                    private = (
                        owner_private
                        or _is_property_mutator(name, decorators)
                        or is_private_name(name)
                    )
                    if name == "__init__":
                        code = "D107"
                    elif name.startswith("__") and name.endswith("__") and name not in _VARIADIC:
                        code = "D105"
                    else:
                        code = "D102"
                if private or has_docstring(definition.child_by_field_name("body")):
                    continue
            findings.append(
                _member_finding(
                    code,
                    name_node.start_byte,
                    name_node.end_byte,
                    qualname,
                    owner == "class",
                    partial(definition_docstring_fix, definition, source, style, owner == "class"),
                )
            )
    findings.sort(key=lambda f: f.start)
    return findings


def _member_finding(
    code: str,
    start: int,
    end: int,
    qualname: str,
    method: bool,
    fix_factory: Callable[[], Fix | None],
) -> Finding:
    """A D101-D107 finding on the definition's name ``[start, end)``."""
    return Finding(
        code,
        MESSAGES[code],
        start,
        end,
        noqa_offsets=(start,),
        fix_factory=fix_factory,
        data={
            "kind": "class" if code in ("D101", "D106") else "function",
            "qualname": qualname,
            "method": method,
        },
    )


def member_findings(
    root: Node,
    source: bytes,
    context: MemberContext,
    style: str = "google",
    lines: bool = True,
) -> list[Finding]:
    """The D101-D107 findings of every module-level statement of ``root`` (unsorted).

    With ``lines`` (the caller's syntax checks found no error: the indentation is Python's),
    when the C module was built and the tree has no error either, the definitions are read
    from the lines of ``source`` (``drain_ls._native.member_outline``: the same walk as
    ``statement_findings``, in about half the time, Finding objects included), and the tree
    is asked only where the lines do not tell (a first statement whose strings hold a
    comment, or an escape that could fail to decode). Else, and where the C walk gives up (a
    name that is not ASCII), ``statement_findings`` walks the tree statement by statement."""
    rows = None
    if lines and NATIVE is not None and not root.has_error and not context.shadowed:
        rows = NATIVE.member_outline(
            normalize_lone_cr(source), context.exported, context.overloads, context.modules
        )
    findings = _outline_findings(root, source, rows, style) if rows is not None else None
    if findings is not None:
        return findings
    findings = []
    for statement in root.named_children:
        # Most module-level statements (imports, assignments, calls) cannot hold a
        # definition: skip them before paying for a call.
        if statement.type in MEMBER_HOLDERS:
            findings.extend(statement_findings(statement, source, context, style))
    return findings


def _outline_findings(
    root: Node, source: bytes, rows: list[tuple[int, int, int, str, bool, bool]], style: str
) -> list[Finding] | None:
    """The findings of ``member_outline``'s rows (None: a row's definition is not where the
    tree has it, and the tree must do it all)."""
    findings = []
    for number, start, end, qualname, method, ask in rows:
        if ask:
            name = root.descendant_for_byte_range(start, end)
            definition = name.parent if name is not None else None
            kind = "class_definition" if number in (101, 106) else "function_definition"
            if definition is None or definition.type != kind:
                return None
            if has_docstring(definition.child_by_field_name("body")):
                continue
        fix = partial(docstring_fix_at, root, source, start, style)
        findings.append(_member_finding(f"D{number}", start, end, qualname, method, fix))
    return findings


def docstring_fix_at(root: Node, source: bytes, name_start: int, style: str) -> Fix | None:
    """The skeleton fix of the definition whose name starts at byte ``name_start``."""
    node = root.descendant_for_byte_range(name_start, name_start)
    if node is None or node.type != "identifier":
        return None
    definition = node.parent
    if definition is None or definition.type not in ("function_definition", "class_definition"):
        return None
    owner = definition.parent
    if owner is not None and owner.type == "decorated_definition":
        owner = owner.parent
    is_method = False
    while owner is not None and owner.type not in ("module", "function_definition"):
        if owner.type == "class_definition":
            is_method = True
            break
        owner = owner.parent
    return definition_docstring_fix(definition, source, style, is_method)


def _exempt(decorators: list[Node], context: MemberContext, method: bool) -> bool:
    """Whether ``@overload`` (any definition) or ``@override`` (a method: ruff exempts D102,
    never D103) is among ``decorators``."""
    overloads = context.overloads
    for decorator in decorators:
        text = _decorator_text(decorator)
        module, _, attribute = text.rpartition(".")
        if module:
            if module in context.modules and (
                attribute == "overload" or (method and attribute == "override")
            ):
                return True
        elif text in overloads or (method and METHOD_ONLY + text in overloads):
            timeline = dict(context.shadowed).get(text)
            if timeline is None:
                return True
            before = [typing for offset, typing in timeline if offset < decorator.start_byte]
            if before and before[-1]:
                return True
    return False


def _push_blocks(
    statement: Node,
    stack: list[tuple[list[Node], str, bool, str]],
    owner: str,
    owner_private: bool,
    prefix: str,
) -> None:
    """The blocks of a compound statement hold members of the same owner."""
    pending = [statement]
    while pending:
        node = pending.pop()
        for child in node.named_children:
            if child.type == "block":
                stack.append((child.named_children, owner, owner_private, prefix))
            elif child.type in _CLAUSES:
                pending.append(child)
