"""Docstring skeletons written offline from a definition: Google (default), numpy or Sphinx.

A skeleton has a summary placeholder, the parameters with their annotations and defaults
(``self``/``cls`` left out), ``Returns`` only when the body returns a value, ``Yields`` for
generators and ``Raises`` for the exceptions the body raises. Nested functions and classes do
not count for the definition around them. The insertion keeps the file's indentation and line
endings, and a one-line body (``def f(): return 1``) is moved onto its own line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from tree_sitter import Node, Query, QueryCursor

from drain_ls.analysis.model import Edit, Fix
from drain_ls.analysis.source import PY_LANGUAGE
from drain_ls.analysis.type_strings import _string_value

STYLES = ("google", "numpy", "sphinx")


@cache
def _body_facts() -> Query:
    # Compiled when a skeleton is first made (~2 ms), not at every start of the command line.
    return Query(
        PY_LANGUAGE,
        """
        (return_statement) @return
        (yield) @yield
        (raise_statement) @raise
        """,
    )


_SCOPES = frozenset({"function_definition", "class_definition", "lambda"})
_ITERATOR = re.compile(
    r"^(?:[\w.]*\.)?(?:Iterator|Iterable|Generator|AsyncIterator|AsyncIterable|AsyncGenerator)\[(.*)\]$"
)


@dataclass(slots=True)
class Parameter:
    """One documented parameter."""

    name: str
    annotation: str | None = None
    default: str | None = None


@dataclass(slots=True)
class Signature:
    """What a skeleton says about a function."""

    name: str
    parameters: list[Parameter] = field(default_factory=list)
    returns: str | None = None  # the annotation, "" when the body returns a value without one
    yields: str | None = None
    raises: list[str] = field(default_factory=list)


def _text(node: Node | None) -> str:
    if node is None or node.text is None:
        return ""
    return " ".join(node.text.decode("utf-8", errors="replace").split())


def _annotation(node: Node | None) -> str:
    """An annotation's text; a string one (a forward reference, ``"Model"``) without its
    quotes: the type is what it says."""
    inner = node.named_children[0] if node is not None and node.named_child_count == 1 else None
    if inner is not None and inner.type in ("string", "concatenated_string"):
        value = _string_value(inner)
        if value is not None and value[0].strip():
            return " ".join(value[0].split())
    return _text(node)


def _parameters(function: Node, is_method: bool) -> list[Parameter]:
    node = function.child_by_field_name("parameters")
    out: list[Parameter] = []
    if node is None:
        return out
    for child in node.named_children:
        kind = child.type
        if kind == "identifier":
            out.append(Parameter(_text(child)))
        elif kind == "typed_parameter":
            inner = child.named_children[0] if child.named_child_count else None
            out.append(Parameter(_text(inner), _annotation(child.child_by_field_name("type"))))
        elif kind == "default_parameter":
            out.append(
                Parameter(
                    _text(child.child_by_field_name("name")),
                    None,
                    _text(child.child_by_field_name("value")),
                )
            )
        elif kind == "typed_default_parameter":
            out.append(
                Parameter(
                    _text(child.child_by_field_name("name")),
                    _annotation(child.child_by_field_name("type")),
                    _text(child.child_by_field_name("value")),
                )
            )
        elif kind in ("list_splat_pattern", "dictionary_splat_pattern"):
            out.append(Parameter(_text(child)))
    if is_method and out and out[0].name in ("self", "cls") and not _is_static(function):
        out = out[1:]
    return out


def _is_static(function: Node) -> bool:
    parent = function.parent
    if parent is None or parent.type != "decorated_definition":
        return False
    return any(
        _text(d).lstrip("@").strip() in ("staticmethod", "builtins.staticmethod")
        for d in parent.named_children
        if d.type == "decorator"
    )


def _owner(node: Node) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type not in _SCOPES:
        parent = parent.parent
    return parent


def signature_of(function: Node, is_method: bool) -> Signature:
    """What the body and the signature of ``function`` say."""
    signature = Signature(_text(function.child_by_field_name("name")))
    signature.parameters = _parameters(function, is_method)
    body = function.child_by_field_name("body")
    returns_value = False
    is_generator = False
    if body is not None:
        cursor = QueryCursor(_body_facts())
        cursor.set_byte_range(body.start_byte, body.end_byte)
        captures = cursor.captures(body)
        for name in ("return", "yield", "raise"):
            for node in sorted(captures.get(name, []), key=lambda n: n.start_byte):
                owner = _owner(node)
                if owner is None or owner.id != function.id:
                    continue
                if name == "return" and node.named_child_count:
                    returns_value = True
                elif name == "yield":
                    is_generator = True
                elif name == "raise" and node.named_child_count:
                    raised = node.named_children[0]
                    if raised.type == "call":
                        raised = raised.child_by_field_name("function") or raised
                    exception = _text(raised)
                    if exception and exception not in signature.raises:
                        signature.raises.append(exception)
    annotation = _annotation(function.child_by_field_name("return_type")) or None
    if is_generator:
        match = _ITERATOR.match(annotation or "")
        signature.yields = _first_argument(match.group(1)) if match else ""
    elif returns_value:
        signature.returns = annotation or ""
    return signature


def _first_argument(arguments: str) -> str:
    depth = 0
    for i, ch in enumerate(arguments):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            return arguments[:i].strip()
    return arguments.strip()


def summary_placeholder(name: str, kind: str) -> str:
    """The summary line every skeleton starts with."""
    if kind == "module":
        return f"TODO: Summarize the `{name}` module."
    if kind == "package":
        return f"TODO: Summarize the `{name}` package."
    return f"TODO: Summarize `{name}`."


def render(signature: Signature | None, summary: str, style: str = "google") -> list[str]:
    """The lines of a docstring's content (no quotes, no indentation)."""
    lines = [summary]
    if signature is None:
        return lines
    if style == "numpy":
        lines += _numpy(signature)
    elif style == "sphinx":
        lines += _sphinx(signature)
    else:
        lines += _google(signature)
    return lines


def _google(s: Signature) -> list[str]:
    out: list[str] = []
    if s.parameters:
        out += ["", "Args:"]
        for p in s.parameters:
            kind = ", ".join(x for x in (p.annotation, "optional" if p.default else None) if x)
            head = f"{p.name} ({kind})" if kind else p.name
            tail = f" Defaults to {p.default}." if p.default else ""
            out.append(f"    {head}: TODO.{tail}")
    if s.returns is not None:
        out += ["", "Returns:", f"    {s.returns + ': ' if s.returns else ''}TODO."]
    if s.yields is not None:
        out += ["", "Yields:", f"    {s.yields + ': ' if s.yields else ''}TODO."]
    if s.raises:
        out += ["", "Raises:"] + [f"    {e}: TODO." for e in s.raises]
    return out


def _numpy(s: Signature) -> list[str]:
    out: list[str] = []
    if s.parameters:
        out += ["", "Parameters", "----------"]
        for p in s.parameters:
            kind = ", ".join(
                x for x in (p.annotation, f"default {p.default}" if p.default else None) if x
            )
            out += [f"{p.name} : {kind}" if kind else p.name, "    TODO."]
    if s.returns is not None:
        out += ["", "Returns", "-------", s.returns or "object", "    TODO."]
    if s.yields is not None:
        out += ["", "Yields", "------", s.yields or "object", "    TODO."]
    if s.raises:
        out += ["", "Raises", "------"]
        for e in s.raises:
            out += [e, "    TODO."]
    return out


def _sphinx(s: Signature) -> list[str]:
    out: list[str] = []
    if s.parameters or s.returns is not None or s.yields is not None or s.raises:
        out.append("")
    for p in s.parameters:
        tail = f" Defaults to {p.default}." if p.default else ""
        out.append(f":param {p.name.lstrip('*')}: TODO.{tail}")
        if p.annotation:
            out.append(f":type {p.name.lstrip('*')}: {p.annotation}")
    if s.returns is not None:
        out.append(":returns: TODO.")
        if s.returns:
            out.append(f":rtype: {s.returns}")
    if s.yields is not None:
        out.append(":yields: TODO.")
    for e in s.raises:
        out.append(f":raises {e}: TODO.")
    return out


def line_ending(source: bytes) -> str:
    """The file's line ending, from its first line break (``\\n`` when it has none)."""
    match = re.search(rb"\r\n|\r|\n", source)
    return match.group().decode() if match else "\n"


def quote(lines: list[str], indent: str, newline: str) -> str:
    """The docstring literal: triple double quotes, raw if a backslash would be an escape;
    escaped where the text itself would end it (``\"\"\"`` from a default or an annotation,
    a quote or a backslash at the end of a one-line docstring)."""
    text = "".join(lines)
    single = len(lines) == 1
    if '"""' in text or (single and text.endswith(('"', "\\"))):
        lines = [line.replace("\\", "\\\\").replace('"', '\\"') for line in lines]
        prefix = ""
    else:
        prefix = "r" if "\\" in text else ""
    if single:
        return f'{prefix}"""{lines[0]}"""'
    body = newline.join((indent + line) if line else "" for line in lines[1:])
    return f'{prefix}"""{lines[0]}{newline}{body}{newline}{indent}"""'


def _indent_of(source: bytes, offset: int) -> str:
    line_start = max(source.rfind(b"\n", 0, offset), source.rfind(b"\r", 0, offset)) + 1
    prefix = source[line_start:offset]
    return prefix[: len(prefix) - len(prefix.lstrip(b" \t"))].decode()


def _first_statement(block: Node) -> Node | None:
    for child in block.named_children:
        if child.type != "comment":
            return child
    return None


def definition_docstring_fix(
    definition: Node,
    source: bytes,
    style: str = "google",
    is_method: bool = False,
    literal: str | None = None,
    message: str = "Insert docstring",
) -> Fix | None:
    """Insert a skeleton docstring into a function or class definition (or ``literal``, a
    docstring written elsewhere, re-indented to the body)."""
    body = definition.child_by_field_name("body")
    if body is None:
        return None
    first = _first_statement(body)
    if first is None:
        return None
    name = _text(definition.child_by_field_name("name"))
    newline = line_ending(source)
    signature = (
        signature_of(definition, is_method) if definition.type == "function_definition" else None
    )
    lines = render(signature, summary_placeholder(name, "definition"), style)
    header_indent = _indent_of(source, definition.start_byte)
    colon = _header_colon(definition, body)
    if colon is None:
        return None
    between = source[colon + 1 : first.start_byte]
    own_line = b"\n" in between or b"\r" in between
    if own_line:
        indent = _indent_of(source, first.start_byte)
    else:
        # A one-line body: put the docstring and the body on lines of their own.
        unit = "\t" if header_indent.startswith("\t") else "    "
        indent = header_indent + unit
    docstring = (
        quote(lines, indent, newline) if literal is None else _reindent(literal, indent, newline)
    )
    if own_line:
        text = docstring + newline + indent
        return Fix(message, (Edit(first.start_byte, first.start_byte, text),))
    text = newline + indent + docstring + newline + indent
    return Fix(message, (Edit(colon + 1, first.start_byte, text),))


def _reindent(literal: str, indent: str, newline: str) -> str:
    """A docstring literal's continuation lines moved to ``indent``. Only a line feed or
    carriage return ends a line: a form feed or U+2028 inside the literal is text of its
    line, as Python reads it (``str.splitlines`` cut there, and the string no longer
    parsed)."""
    lines = re.split(r"\r\n|\r|\n", literal.strip(" \t\r\n"))
    if len(lines) == 1:
        return lines[0]
    rest = lines[1:]
    common = min((len(x) - len(x.lstrip()) for x in rest if x.strip()), default=0)
    return newline.join([lines[0], *((indent + x[common:]) if x.strip() else "" for x in rest)])


def _header_colon(definition: Node, body: Node) -> int | None:
    """Byte offset of the ``:`` that ends a definition's header."""
    colon = None
    for child in definition.children:
        if child.start_byte >= body.start_byte:
            break
        if child.type == ":":
            colon = child.start_byte
    return colon


def module_docstring_fix(root: Node, source: bytes, name: str, package: bool) -> Fix:
    """Insert a skeleton module (or package) docstring before the first statement."""
    newline = line_ending(source)
    text = quote([summary_placeholder(name, "package" if package else "module")], "", newline)
    first = _first_statement(root)
    if first is None:
        # Only comments, or nothing: after the last comment line.
        end = root.end_byte
        separator = "" if not source or source.endswith((b"\n", b"\r")) else newline
        return Fix("Insert docstring", (Edit(end, end, separator + text + newline),))
    return Fix(
        "Insert docstring",
        (Edit(first.start_byte, first.start_byte, text + newline + newline),),
    )
