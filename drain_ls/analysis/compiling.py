"""Asking CPython about a piece of source: ``compile`` (to an AST only), its outcome
remembered, and CPython's (line, column) of an error as a byte offset.

``drain_ls.analysis.syntax`` compiles the statement around each error of tree-sitter's tree,
to clear what the grammar rejects and Python accepts, and to word what stands as CPython does.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict

# What ``compile_outcome`` returns for a text that compiles.
ACCEPTED = object()


def remembered_outcome(
    text: bytes, wrapped: bool, compiled: OrderedDict[tuple[bytes, bool], object] | None
) -> object:
    """``compile_outcome``'s outcome, remembered in ``compiled``."""
    key = (text, wrapped)
    found = compiled.get(key) if compiled is not None else None
    if found is None:
        found = compile_outcome(text, wrapped)
        if compiled is not None:
            compiled[key] = found
            while len(compiled) > 16:
                compiled.popitem(last=False)
    return found


def compile_outcome(text: bytes, wrapped: bool) -> object:
    """``ACCEPTED``, or (message, 1-based line or None, 1-based character column)."""
    code = text.decode("utf-8", errors="replace")
    if wrapped:
        code = "if 1:\n" + code
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(code, "<statement>", "exec", flags=0x400, dont_inherit=True)  # ONLY_AST
    except SyntaxError as exc:
        return f"{type(exc).__name__}: {exc.msg or 'invalid syntax'}", exc.lineno, exc.offset
    except ValueError:  # a NUL byte (Python 3.11)
        return "SyntaxError: source code cannot contain null bytes", None, None
    except (RecursionError, MemoryError) as exc:
        return f"SyntaxError: {type(exc).__name__}", None, None
    return ACCEPTED


def cpython_offset(source: bytes, begin: int, line: int | None, column: int | None) -> int:
    """The byte offset of CPython's (line, character column), both 1-based, in a unit that
    starts at ``begin``."""
    start = begin
    for _ in range(max(0, (line or 1) - 1)):
        eol = source.find(b"\n", start)
        if eol < 0:
            break
        start = eol + 1
    eol = source.find(b"\n", start)
    text = source[start : eol if eol >= 0 else len(source)].decode("utf-8", errors="replace")
    chars = max(0, min((column or 1) - 1, len(text)))
    return start + len(text[:chars].encode("utf-8"))
