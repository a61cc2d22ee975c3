"""Settings: layers merged in order, names checked, bad values named and replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

from drain_ls.config import build_settings, camelize_keys, select_codes, settings_to_json


def test_layers_merge_with_client_over_file() -> None:
    file = camelize_keys(
        {"budget": {"daily-usd": 0.25, "max-tokens-per-drain": 3000}, "select": ["F401"]}
    )
    init = {"budget": {"dailyUsd": 0.5}}
    client = {"idle": {"delayMs": 10}}
    settings, problems = build_settings(file, init, client)
    assert problems == []
    assert settings.budget.daily_usd == 0.5  # init over file
    assert settings.budget.max_tokens_per_drain == 3000  # file kept where nobody overrides
    assert settings.idle.delay_ms == 10
    assert settings.codes == frozenset({"F401"})


def test_bad_values_are_named_and_the_default_is_used() -> None:
    settings, problems = build_settings(
        {
            "budget": {"safetyMargin": 3, "dailyTokens": "lots"},
            "cancel": {"policy": "some"},
            "nonsense": True,
            "llm": "on",
        }
    )
    assert settings.budget.safety_margin == 0.1
    assert settings.budget.daily_tokens == 500_000
    assert settings.cancel.policy == "affected"
    assert any("`budget.safetyMargin`" in p and "between 0 and 1" in p for p in problems)
    assert any("`budget.dailyTokens`" in p for p in problems)
    assert any("`cancel.policy`" in p and "'affected', 'all'" in p for p in problems)
    assert any("unknown setting `nonsense`" in p for p in problems)
    assert any("`llm` must be an object" in p for p in problems)


def test_selectors_expand_prefixes() -> None:
    assert select_codes(["D1"], ["D107"]) == frozenset(f"D10{i}" for i in range(7))
    assert "E999" in select_codes([], [])
    assert select_codes(["ALL"], ["D", "E"]) == frozenset({"F401"})


def test_settings_as_json_round_trip() -> None:
    settings, _ = build_settings({"privacy": {"exclude": ["*.gen.py"]}})
    data = settings_to_json(settings)
    assert data["privacy"]["exclude"] == ["*.gen.py"]
    again, problems = build_settings(data)
    assert problems == [] and again == settings


def test_model_names_in_prices_keep_their_spelling() -> None:
    layer = camelize_keys(
        {
            "llm": {"prices": {"claude-haiku-4-5": {"input": 2.0, "output": 9.0}}},
            "idle": {"delay-ms": 5},
        }
    )
    settings, problems = build_settings(layer)
    assert not problems
    assert settings.llm.prices == {"claude-haiku-4-5": {"input": 2.0, "output": 9.0}}
    assert settings.idle.delay_ms == 5


def test_the_server_run_and_show_read_a_workspace_s_settings_with_one_loader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``config.workspace.workspace_layer``: the nearest pyproject.toml at or above a file,
    camelized, with the target version ``requires-python`` implies (``drain-ls show`` and
    ``run`` read the table alone before, and took the newest Python)."""
    from drain_ls.cli.results import project_of
    from drain_ls.config.workspace import workspace_layer
    from drain_ls.lsp.server import DrainServer

    (tmp_path / "pyproject.toml").write_text(
        '[project]\nrequires-python = ">=3.9"\n\n[tool.drain-ls]\ndocstring-style = "numpy"\n'
    )
    (tmp_path / "pkg").mkdir()
    module = tmp_path / "pkg" / "m.py"
    module.write_text("x = 1\n")
    monkeypatch.setenv("DRAIN_LS_HOME", str(tmp_path / "home"))
    layer, project = workspace_layer(module)
    assert layer == {"docstringStyle": "numpy", "targetVersion": "py39"}
    assert project.root == tmp_path
    server = DrainServer()
    server.workspace_root = lambda: tmp_path  # type: ignore[method-assign]
    server.load_file_layer()
    assert server.file_layer == layer
    settings = project_of(module).settings
    assert (settings.target_version, settings.docstring_style) == ("py39", "numpy")
