"""Answers from small models, made checkable: what a 7B model wraps around the answer a drain
asked for is taken off before ``drains.validate`` checks it (which stays as strict as ever: a
docstring must still be one string literal).

Taken off: a reasoning block (``<think>...</think>``, left in the text by some local servers and
templates); code fences; prose before or after the answer ("Here is the docstring:", "Sure!
..."); for ``docstrings``, a whole function or class sent back instead of its docstring (its
docstring is kept) and a literal indented as in the body. Nothing is invented: an answer with
no string literal in it stays unusable.
"""

from __future__ import annotations

import ast
import re
import textwrap

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.S | re.I)
_FENCE = re.compile(r"```[\w+-]*[ \t]*\n?(.*?)(?:```|\Z)", re.S)
_LITERAL = re.compile(r"[rRuU]?(\"\"\"|''')(.*?)\1", re.S)
_PREAMBLE = re.compile(
    r"^\s*(?:sure|certainly|of course|okay|ok|here(?:'s| is| are)|below is|the following)\b"
    r"[^\n]*(?::|\.|!)\s*$",
    re.I,
)
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:summary|suggestion|answer)(?:\*\*)?\s*:\s*(?:\*\*)?\s*", re.I)
_MARKDOWN = re.compile(r"^\s*(?:#{1,6}\s+|[-*]\s+|>\s+)", re.M)
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def clean(drain: str, text: str) -> str:
    """``text`` without what small models wrap around the answer ``drain`` asked for; the
    result still goes through ``drains.validate``."""
    text = _THINK.sub("", text).strip()
    if drain == "docstrings":
        return docstring_literal(text) or text
    if drain in ("summaries", "simplify"):
        return _prose(text)
    return text


def docstring_literal(text: str) -> str | None:
    """The one docstring literal in an answer: the answer itself, a fenced block's, the
    docstring of a function or class sent back whole, or the first triple-quoted literal
    amid prose. None when there is none."""
    candidates = [match.group(1) for match in _FENCE.finditer(text)] + [text]
    for candidate in candidates:
        found = _from_code(textwrap.dedent(candidate).strip())
        if found is not None:
            return found
    for match in _LITERAL.finditer(text):
        found = _from_code(match.group(0))
        if found is not None:
            return found
    return None


def _from_code(code: str) -> str | None:
    """The literal of ``code`` when it is one, or the docstring of its first definition."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    if not tree.body:
        return None
    first = tree.body[0]
    if _is_string(first) and len(tree.body) == 1:
        return code
    for node in tree.body:
        if isinstance(node, _DEFINITIONS) and node.body and _is_string(node.body[0]):
            return ast.get_source_segment(code, node.body[0])
    return None


def _is_string(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _prose(text: str) -> str:
    """Plain sentences: fences opened, a first line that only announces the answer
    dropped, labels and markdown marks taken off."""
    text = _FENCE.sub(lambda match: match.group(1), text).strip()
    lines = text.splitlines()
    if len(lines) > 1 and _PREAMBLE.match(lines[0]):
        lines = lines[1:]
    text = _LABEL.sub("", "\n".join(lines).strip())
    text = _MARKDOWN.sub("", text)
    return text.replace("**", "").strip()
