"""The offline backend: free, deterministic, no network. Every drain works with no API key.

``docstrings`` answers with the skeleton of the foundation (parameters, returns, yields,
raises, in the configured style); ``summaries`` with a structural summary (what the
definition takes, returns, raises and calls, its size and complexity). Both are computed
from the scope's code with tree-sitter.
"""

from __future__ import annotations

from tree_sitter import Node

from drain_ls.analysis.complexity import cyclomatic_complexity
from drain_ls.analysis.grammar_gaps import parse_input
from drain_ls.analysis.skeletons import render, signature_of, summary_placeholder
from drain_ls.analysis.source import parse
from drain_ls.backends.base import BackendError, DrainRequest, DrainResponse, Progress, RateLimits
from drain_ls.budget import Usage


def _definition(code: str) -> Node | None:
    tree = parse(parse_input(code.encode("utf-8")))
    stack = [tree.root_node]
    while stack:
        node = stack.pop(0)
        if node.type in ("function_definition", "class_definition"):
            return node
        stack.extend(node.named_children)
    return None


def _name(node: Node) -> str:
    name = node.child_by_field_name("name")
    return (name.text or b"").decode("utf-8", "replace") if name is not None else "?"


def offline_docstring(code: str, style: str = "google") -> str:
    """A docstring literal (triple-quoted, not indented) for the definition in ``code``."""
    node = _definition(code)
    if node is None:
        return '"""TODO: Summarize this module."""'
    signature = (
        signature_of(node, is_method=_is_method(node))
        if node.type == "function_definition"
        else None
    )
    lines = render(signature, summary_placeholder(_name(node), "definition"), style)
    if len(lines) == 1:
        return f'"""{lines[0]}"""'
    return '"""' + "\n".join(lines) + '\n"""'


def _is_method(node: Node) -> bool:
    parameters = node.child_by_field_name("parameters")
    first = (
        parameters.named_children[0]
        if parameters is not None and parameters.named_child_count
        else None
    )
    return first is not None and first.text in (b"self", b"cls")


def offline_simplification(code: str) -> str:
    """One concrete, structural suggestion for a complex function."""
    node = _definition(code)
    if node is None or node.type != "function_definition":
        return "Split this code into smaller functions."
    body = node.child_by_field_name("body")
    branches = loops = depth = 0
    deepest: Node | None = None
    stack = [(child, 1) for child in (body.named_children if body is not None else [])]
    while stack:
        current, level = stack.pop()
        if current.type in ("function_definition", "class_definition", "lambda"):
            continue
        if current.type in ("if_statement", "elif_clause"):
            branches += 1
        if current.type in ("for_statement", "while_statement"):
            loops += 1
        if current.type == "block":
            if level > depth:
                depth, deepest = level, current.parent
            level += 1
        stack.extend((child, level) for child in current.named_children)
    name = _name(node)
    advice = []
    if branches >= 4:
        advice.append(
            f"replace the {branches} if/elif branches with a lookup table or early returns"
        )
    if deepest is not None and depth >= 3:
        line = deepest.start_point.row - node.start_point.row + 1
        advice.append(
            f"move the block nested {depth} deep (line {line} of the function) into a helper"
        )
    if loops >= 2:
        advice.append(f"give each of the {loops} loops its own function")
    if not advice:
        advice.append("split it where its steps change subject")
    return (
        f"`{name}` has cyclomatic complexity {cyclomatic_complexity(node)}: "
        + "; ".join(advice)
        + "."
    )


def offline_summary(code: str) -> str:
    """Two sentences on what the definition in ``code`` is, from its structure alone."""
    node = _definition(code)
    if node is None:
        return "A module-level block of code."
    name = _name(node)
    lines = node.end_point.row - node.start_point.row + 1
    if node.type == "class_definition":
        body = node.child_by_field_name("body")
        methods = [
            _name(
                c
                if c.type != "decorated_definition"
                else (c.child_by_field_name("definition") or c)
            )
            for c in (body.named_children if body is not None else [])
            if c.type in ("function_definition", "decorated_definition")
        ]
        listed = ", ".join(f"`{m}`" for m in methods[:6]) or "no methods"
        return f"Class `{name}` with {len(methods)} method(s): {listed}. It spans {lines} lines."
    signature = signature_of(node, _is_method(node))
    takes = ", ".join(p.name for p in signature.parameters) or "nothing"
    what = (
        "yields values"
        if signature.yields is not None
        else ("returns a value" if signature.returns is not None else "returns nothing")
    )
    raises = f" and may raise {', '.join(signature.raises)}" if signature.raises else ""
    return (
        f"Function `{name}` takes {takes}, {what}{raises}. "
        f"It spans {lines} lines with cyclomatic complexity {cyclomatic_complexity(node)}."
    )


def offline_module_summary(code: str) -> str:
    """What a module holds, from its outline or its text."""
    tree = parse(parse_input(code.encode("utf-8", "surrogateescape")))
    functions: list[str] = []
    classes: list[str] = []
    imports = 0
    for node in tree.root_node.named_children:
        if node.type == "decorated_definition":
            node = node.child_by_field_name("definition") or node
        if node.type == "function_definition":
            functions.append(_name(node))
        elif node.type == "class_definition":
            classes.append(_name(node))
        elif node.type in ("import_statement", "import_from_statement"):
            imports += 1
    parts = []
    if classes:
        parts.append(f"{len(classes)} class(es) ({', '.join(f'`{c}`' for c in classes[:6])})")
    if functions:
        shown = ", ".join(f"`{f}`" for f in functions[:6])
        parts.append(f"{len(functions)} function(s) ({shown})")
    held = " and ".join(parts) if parts else "no definitions"
    return f"A module with {held}, importing from {imports} statement(s)."


def offline_custom(request: DrainRequest) -> str:
    """A custom drain's answer, from the structure of its scope and the results it got.

    Offline there is no model to follow the drain's prompt: the answer says what the scope
    is (a structural summary) and, for a drain that runs after another, combines the first
    sentence of each result it builds on.
    """
    if request.scope_kind in ("function", "class"):
        text = offline_summary(request.scope)
    else:
        text = offline_module_summary(request.scope)
    if request.inputs:
        firsts = []
        for line in request.inputs.splitlines():
            line = line.strip().removeprefix("- ")
            if line:
                name, _, answer = line.partition(": ")
                sentence = answer.split(". ")[0].rstrip(".")
                firsts.append(f"{name}: {sentence}")
        text += " Built from " + str(len(firsts)) + " earlier result(s): " + "; ".join(firsts)
        text += "."
    return text


class OfflineBackend:
    """Writes from the code's structure; costs nothing."""

    name = "offline"

    def __init__(self) -> None:
        """No state: everything comes from the request."""
        self.rate_limits = RateLimits()

    async def close(self) -> None:
        """Nothing to release."""

    async def complete(self, request: DrainRequest, progress: Progress) -> DrainResponse:
        """The offline answer for ``request.drain``."""
        progress.started = True
        if request.drain == "docstrings":
            text = offline_docstring(request.scope, request.style)
        elif request.drain == "summaries":
            text = offline_summary(request.scope)
        elif request.drain == "simplify":
            text = offline_simplification(request.scope)
        elif request.scope_kind == "commits":
            from drain_ls.commits import CommitBatch, offline_review

            if not isinstance(request.attachment, CommitBatch):
                raise BackendError("request", "the offline review needs the commits")
            text = offline_review(request.attachment)
        elif request.scope_kind:
            text = offline_custom(request)
        else:
            raise BackendError("request", f"the offline backend cannot run `{request.drain}`")
        progress.finished = True
        return DrainResponse(text, Usage(), "end_turn", "offline")
