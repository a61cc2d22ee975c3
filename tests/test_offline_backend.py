"""The offline backend answers every built-in drain for free, through the same interface."""

from __future__ import annotations

import ast

import pytest

from drain_ls.backends.base import BackendError, DrainRequest, Progress
from drain_ls.backends.offline import OfflineBackend

CODE = """def parse(text: str, strict: bool = False) -> list[str]:
    if not text:
        raise ValueError("empty")
    return [w for w in text.split() if w or strict]
"""


def request(drain: str, scope: str = CODE, style: str = "google") -> DrainRequest:
    return DrainRequest(
        drain=drain,
        model="offline",
        max_tokens=500,
        context="",
        prompt="",
        scope=scope,
        style=style,
    )


async def test_docstring_is_a_valid_literal_describing_the_signature() -> None:
    response = await OfflineBackend().complete(request("docstrings"), Progress())
    value = ast.literal_eval(response.text)
    assert "text (str): TODO." in value
    assert "strict (bool, optional): TODO. Defaults to False." in value
    assert "Returns:\n    list[str]: TODO." in value
    assert "ValueError: TODO." in value
    assert response.usage.total == 0


@pytest.mark.parametrize("style", ["numpy", "sphinx"])
async def test_docstring_styles(style: str) -> None:
    response = await OfflineBackend().complete(request("docstrings", style=style), Progress())
    value = ast.literal_eval(response.text)
    assert ("Parameters\n----------" in value) if style == "numpy" else (":param text:" in value)


async def test_summary_of_a_function_and_a_class() -> None:
    function = await OfflineBackend().complete(request("summaries"), Progress())
    assert function.text == (
        "Function `parse` takes text, strict, returns a value and may raise ValueError. "
        "It spans 4 lines with cyclomatic complexity 5."
    )
    klass = await OfflineBackend().complete(
        request(
            "summaries", "class C:\n    def a(self): pass\n    @property\n    def b(self): pass\n"
        ),
        Progress(),
    )
    assert klass.text == "Class `C` with 2 method(s): `a`, `b`. It spans 4 lines."


async def test_unknown_drain_is_a_clear_error() -> None:
    with pytest.raises(BackendError, match="cannot run `simplify2`"):
        await OfflineBackend().complete(request("simplify2"), Progress())
