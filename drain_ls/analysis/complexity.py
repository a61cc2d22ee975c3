"""Cyclomatic complexity of a function, from its tree.

One plus one per decision: ``if``/``elif``, loops, ``except`` clauses, ``case`` clauses,
conditional expressions, ``and``/``or``, and each ``for``/``if`` of a comprehension. Nested
functions and classes count for themselves, not for the function around them.
"""

from __future__ import annotations

from tree_sitter import Node, Query, QueryCursor

from drain_ls.analysis.source import PY_LANGUAGE

_DECISIONS = Query(
    PY_LANGUAGE,
    """
    [
      (if_statement)
      (elif_clause)
      (for_statement)
      (while_statement)
      (except_clause)
      (case_clause)
      (conditional_expression)
      (boolean_operator)
      (for_in_clause)
      (if_clause)
    ] @decision
    """,
)

_SCOPES = frozenset({"function_definition", "class_definition", "lambda"})


def cyclomatic_complexity(function: Node) -> int:
    """The cyclomatic complexity of a ``function_definition`` node."""
    body = function.child_by_field_name("body")
    if body is None:
        return 1
    cursor = QueryCursor(_DECISIONS)
    cursor.set_byte_range(body.start_byte, body.end_byte)
    count = 1
    for node in cursor.captures(body).get("decision", []):
        owner = node.parent
        while owner is not None and owner.type not in _SCOPES:
            owner = owner.parent
        if owner is not None and owner.id == function.id:
            count += 1
    return count
