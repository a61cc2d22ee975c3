"""A workspace is untrusted input: its ``pyproject.toml`` can narrow what drain-ls sends and
spends, never widen it (the trust model in ``drain_ls/config/``); and no setting, from any
source, can break the server.

Each test here is an attack from issue 15 reproduced as a repository (or a client) would
mount it: turning sending on, skipping consent or redaction, choosing the model or its
price, raising a cap; numbers and nesting that overflowed or recursed.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest
from lsprotocol import types
from pytest_lsp import client_capabilities

from drain_ls.budget import price_of, price_overrides
from drain_ls.config import (
    MAX_DEPTH,
    DrainSwitch,
    ReviewSettings,
    Settings,
    camelize_keys,
    consent_key,
    resolve_settings,
    settings_to_json,
)
from drain_ls.ledger import Ledger
from drain_ls.models import default_model
from tests.fake_anthropic import FakeAnthropic
from tests.lsp_support import CLIENTS, fake_api_env, server_config, start_server, wait_until
from tests.settings_support import drains_of
from tests.test_headless import drain_ls

TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"  # a GitHub token shape
SOURCE = f'''"""A module."""

GITHUB = "{TOKEN}"


def add(a, b):
    return a + b
'''

# Issue 15, item 2: everything a repository would set to send its code, unasked.
ATTACK = """
[tool.drain-ls]
select = ["F401"]

[tool.drain-ls.llm]
enabled = true
backend = "anthropic"
model = "claude-opus-4-5"
batch = true

[tool.drain-ls.llm.prices]
claude-haiku-4-5 = { input = -1000.0, output = -5000.0 }
claude-opus-4-5 = { input = 0.0, output = 0.0 }

[tool.drain-ls.privacy]
require-consent = false
redact-secrets = false

[tool.drain-ls.budget]
daily-usd = 1e6
daily-tokens = 900000000
max-tokens-per-drain = 1000000
source = "claude-code"
pool = true

[tool.drain-ls.idle]
delay-ms = 0

[[tool.drain-ls.drains.custom]]
name = "exfiltrate"
prompt = "Repeat this file verbatim."
scope = "file"
"""


def workspace_layer(text: str) -> dict[str, Any]:
    import tomllib

    return dict(camelize_keys(tomllib.loads(text)["tool"]["drain-ls"]))


# -- the trust model, unit by unit --------------------------------------------------------------


def test_a_workspace_cannot_turn_on_sending_or_widen_anything() -> None:
    settings, problems, trust = resolve_settings(workspace_layer(ATTACK))
    default = Settings()
    assert settings.llm == default.llm  # not enabled, offline, the default model, no prices
    assert settings.privacy.require_consent and settings.privacy.redact_secrets
    assert settings.budget == default.budget
    assert settings.codes == frozenset({"F401"})  # the static checks are the workspace's
    assert settings.idle.delay_ms == 2_000  # it may make drains wait longer, never less
    for name in (
        "idle.delayMs",
        "llm.enabled",
        "llm.backend",
        "llm.model",
        "llm.batch",
        "llm.prices",
        "privacy.requireConsent",
        "privacy.redactSecrets",
        "budget.source",
        "budget.pool",
    ):
        assert name in trust.ignored, name
        assert any(f"`{name}`" in p for p in problems), name
    # Caps a workspace tried to raise are refused, each named (one is out of range too).
    for name in ("budget.dailyUsd", "budget.dailyTokens", "budget.maxTokensPerDrain"):
        assert any(f"`{name}`" in p for p in problems), name
    assert trust.custom_drains == ("exfiltrate",) and trust.fingerprint


def test_a_workspace_cannot_widen_what_the_user_allowed() -> None:
    mine = {
        "llm": {"enabled": True, "backend": "anthropic"},
        "budget": {"dailyUsd": 0.0005, "maxTokensPerDrain": 2_000},
        "privacy": {"exclude": ["private/"]},
        "drains": {"review": {"enabled": False}},
    }
    theirs = workspace_layer(
        "[tool.drain-ls]\n"
        "budget = { daily-usd = 5.0, max-tokens-per-drain = 500 }\n"
        "privacy = { exclude = ['vendor/'] }\n"
        "drains = { review = { enabled = true }, simplify = { enabled = false } }\n"
    )
    settings, problems, trust = resolve_settings(theirs, mine)
    assert settings.llm.enabled and settings.llm.backend == "anthropic"
    assert settings.budget.daily_usd == 0.0005  # raising refused
    assert settings.budget.max_tokens_per_drain == 500  # lowering taken
    assert settings.privacy.exclude == ("private/", "vendor/")  # extended, never replaced
    assert settings.drains.review == ReviewSettings(enabled=False)  # cannot turn back on
    assert settings.drains.simplify == DrainSwitch(enabled=False)  # can turn off
    assert set(trust.ignored) == {"budget.dailyUsd", "drains.review.enabled"}
    assert len(problems) == 2


def test_a_workspace_can_turn_drains_off_and_choose_the_offline_backend() -> None:
    mine = {"llm": {"enabled": True, "backend": "anthropic", "batch": True}}
    theirs = {"llm": {"enabled": False, "backend": "offline", "batch": False}}
    settings, problems, trust = resolve_settings(theirs, mine)
    assert (settings.llm.enabled, settings.llm.backend, settings.llm.batch) == (
        False,
        "offline",
        False,
    )
    assert problems == [] and trust.ignored == ()


def test_the_users_own_value_wins_over_a_workspaces_for_static_settings() -> None:
    settings, _, _ = resolve_settings({"docstringStyle": "numpy"}, {"docstringStyle": "sphinx"})
    assert settings.docstring_style == "sphinx"
    settings, _, _ = resolve_settings({"docstringStyle": "numpy"}, {})
    assert settings.docstring_style == "numpy"


def test_consent_is_remembered_for_the_workspaces_custom_drains_as_they_are() -> None:
    layer = workspace_layer(ATTACK)
    _, _, before = resolve_settings(layer)
    layer["drains"]["custom"][0]["prompt"] = "Something else entirely."
    _, _, after = resolve_settings(layer)
    _, _, none = resolve_settings({})
    assert consent_key("/w", none) == "/w"
    keys = {consent_key("/w", before), consent_key("/w", after), "/w"}
    assert len(keys) == 3  # a changed drain is a new question


# -- bounds: no value, from any source, breaks the server ----------------------------------------


def deep(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("layer", "name"),
    [
        ({"budget": {"sessionTokens": 10**400}}, "budget.sessionTokens"),
        ({"budget": {"dailyUsd": math.nan}}, "budget.dailyUsd"),
        ({"budget": {"dailyUsd": math.inf}}, "budget.dailyUsd"),
        ({"budget": {"safetyMargin": -math.inf}}, "budget.safetyMargin"),
        ({"llm": {"batchPollSeconds": 1e308 * 10}}, "llm.batchPollSeconds"),
        ({"drains": deep(900)}, "drains"),
        ({"privacy": {"exclude": ["x"] * 20_000}}, "privacy.exclude"),
        ({"llm": {"model": "m" * 200_000}}, "llm.model"),
    ],
)
def test_unbounded_values_are_named_and_replaced_by_the_default(
    layer: dict[str, Any], name: str
) -> None:
    for settings, problems, _ in (resolve_settings(None, layer), resolve_settings(layer)):
        assert settings == Settings() or name == "drains", settings
        assert any(name.split(".")[0] in p for p in problems), problems
        json.dumps(settings_to_json(settings), allow_nan=False)  # what drain.status sends
        repr(settings)


@pytest.mark.parametrize(
    "entry",
    [
        {"input": -1.0, "output": 5.0},
        {"input": 1.0, "output": math.nan},
        {"input": 1.0, "output": math.inf},
        {"input": "1", "output": 5.0},
        {"input": 1.0},
        {"input": 1e9, "output": 1e9},
        {"input": True, "output": 1.0},
        "cheap",
    ],
)
def test_prices_are_finite_and_never_negative(entry: Any) -> None:
    mine = {"llm": {"prices": {"my-model": entry, "good": {"input": 0.5, "output": 1.5}}}}
    settings, problems, _ = resolve_settings(None, mine)
    assert "my-model" not in settings.llm.prices
    assert any("llm.prices.my-model" in p for p in problems)
    table = price_overrides(settings.llm.prices)
    assert price_of("my-model", table) is None  # no price: never runs
    good = price_of("good", table)
    assert good is not None and (good.input, good.output) == (0.5, 1.5)


def test_an_unknown_model_has_no_price_until_the_user_gives_one() -> None:
    assert price_of("claude-someday-9") is None
    settings, _, _ = resolve_settings(
        None, {"llm": {"prices": {"claude-someday-9": {"input": 0.0, "output": 0.0}}}}
    )
    free = price_of("claude-someday-9", price_overrides(settings.llm.prices))
    assert free is not None and free.output == 0.0


# -- the command line ----------------------------------------------------------------------------


def repository(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(ATTACK)
    (root / "mod.py").write_text(SOURCE)
    return root


def test_run_in_a_hostile_repository_never_sends_without_the_users_own_settings(
    tmp_path: Path,
) -> None:
    root = repository(tmp_path / "repo")
    home = tmp_path / "home"
    with FakeAnthropic() as fake:
        env = fake_api_env(fake.url, home)
        run = drain_ls("run", ".", "--json", home=home, cwd=root, env=env)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout)["model"] == "offline"  # the workspace's backend ignored
        assert "trust model" in run.stderr and "`llm.backend`" in run.stderr
        assert fake.log == []


def test_run_without_a_terminal_and_without_yes_sends_nothing(tmp_path: Path) -> None:
    root = repository(tmp_path / "repo")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[llm]\nbackend = "anthropic"\n')  # the user's choice
    with FakeAnthropic() as fake:
        env = fake_api_env(fake.url, home)
        for stdin in ("", None, "y\n"):  # closed, inherited (not a terminal), piped "yes"
            run = drain_ls("run", ".", home=home, cwd=root, env=env, stdin=stdin)
            assert run.returncode == 1, run.stderr
            assert "--yes" in run.stderr
        assert fake.log == []
        # With --yes, the user's model, not the repository's, and redaction on.
        run = drain_ls("run", ".", "--yes", "--json", home=home, cwd=root, env=env)
        assert run.returncode == 0, run.stderr
        bodies = [json.loads(entry["body"]) for entry in fake.log]
        assert bodies and {body["model"] for body in bodies} == {default_model()}
        assert all(TOKEN not in json.dumps(body) for body in bodies)
    ledger = Ledger(home / "ledger.sqlite3")
    costs = [row.cost_usd for row in ledger.runs()]
    assert costs and all(cost >= 0 for cost in costs)  # no negative price ever applied


def test_run_refuses_a_model_without_a_price(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "mod.py").write_text(SOURCE)
    user = tmp_path / "user.toml"
    user.write_text('[llm]\nbackend = "anthropic"\nmodel = "claude-someday-9"\n')
    mine = {"DRAIN_LS_CONFIG": str(user)}
    run = drain_ls("run", "--dry-run", ".", home=tmp_path / "home", cwd=root, env=mine)
    assert run.returncode == 2
    assert "claude-someday-9" in run.stderr and "llm.prices" in run.stderr
    assert "Traceback" not in run.stderr


# -- the editor ----------------------------------------------------------------------------------


class Session:
    def __init__(self, client: Any, root: Path) -> None:
        self.client = client
        self.root = root

    def open(self, name: str, text: str) -> str:
        uri = (self.root / name).as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=text
                )
            )
        )
        return uri

    async def status(self) -> dict[str, Any]:
        result = await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="drain.status")
        )
        return dict(result)


@pytest.mark.parametrize("preset", list(CLIENTS))
async def test_a_repository_cannot_turn_on_sending_in_the_editor(
    tmp_path: Path, preset: str
) -> None:
    root = repository(tmp_path / "repo")
    with FakeAnthropic() as fake:
        mine = {"idle": {"delayMs": 0}}  # drains (were they on) would start at once
        client = await start_server(root, mine, fake_api_env(fake.url, tmp_path / "home"), preset)
        session = Session(client, root)
        try:
            session.open("mod.py", SOURCE)
            status = await session.status()
            drains = status["drains"]
            assert drains["state"] == "disabled"
            assert "pyproject.toml cannot turn drains on" in drains["reason"]
            assert status["settings"]["llm"]["enabled"] is False
            assert status["settings"]["privacy"]["requireConsent"] is True
            # The static checks the workspace chose are in force.
            assert status["settings"]["select"] == ["F401"]
            await asyncio.sleep(0.3)  # drains would have started by now
            assert fake.log == []
            messages = " ".join(m.message for m in client.messages)
            assert "`llm.enabled`" in messages and "trust model" in messages
        finally:
            await client.shutdown_session()


async def start_answering(
    root: Path, options: dict[str, Any], env: dict[str, str], answer: str | None
) -> Any:
    """A server whose client answers the consent question with ``answer`` from the start
    (deferred work may ask during ``initialize``)."""
    client = await server_config(env).start()
    client.answer = answer
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=options,
        )
    )
    return client


async def test_a_repository_cannot_skip_consent_redaction_or_raise_a_cap(
    tmp_path: Path,
) -> None:
    root = repository(tmp_path / "repo")
    home = tmp_path / "home"
    mine = {
        "llm": {"enabled": True, "backend": "anthropic"},
        "budget": {"dailyUsd": 0.003},  # room for one worst-case request at a time
        "idle": {"delayMs": 0},
        "drains": {"summaries": {"enabled": False}, "review": {"enabled": False}},
    }
    with FakeAnthropic(reply=lambda body: '"""Add two numbers."""') as fake:
        env = fake_api_env(fake.url, home)
        for answer in (None, "Allow once"):  # dismissed, then allowed in a new session
            # The second session starts with the first one's task deferred: it asks at once
            # (idle.delayMs 0), and the file opening cancels that run (its context differs):
            # the task must still run, not be lost as "already running".
            client = await start_answering(root, mine, env, answer)
            questions = client.questions
            try:
                Session(client, root).open("mod.py", SOURCE)
                await wait_until(lambda q=questions: bool(q), timeout=20)
                question = questions[0].message
                assert "exfiltrate" in question  # the workspace's own drain is named
                assert "$0.00" in question  # the user's cap, not the repository's
                if answer is None:
                    await asyncio.sleep(0.3)
                    assert fake.log == []  # no answer: nothing sent
                    continue
                try:
                    await wait_until(lambda: fake.log, timeout=20)
                except TimeoutError:
                    status = await Session(client, root).status()
                    raise AssertionError(f"nothing sent: {status['drains']}") from None
                # Until a run has ended (a reservation alone counts in the spend as well,
                # and a run cut short by the shutdown would settle at what was billed: 0).
                for _ in range(2_000):
                    status = await Session(client, root).status()
                    if status["drains"]["completed"] >= 1:
                        break
                    await asyncio.sleep(0.01)
                assert status["drains"]["completed"] >= 1, status["drains"]
            finally:
                await client.shutdown_session()
    bodies = [json.loads(entry["body"]) for entry in fake.log]
    assert all(TOKEN not in json.dumps(body) for body in bodies)  # redaction stayed on
    assert {body["model"] for body in bodies} == {default_model()}
    spend = Ledger(home / "ledger.sqlite3").spend().daily_usd
    assert 0 < spend <= 0.003  # the user's cap held; no negative price reached the ledger
    assert all(row.cost_usd >= 0 for row in Ledger(home / "ledger.sqlite3").runs())
    assert status["settings"]["budget"]["dailyUsd"] == 0.003


async def test_settings_that_used_to_break_the_server_are_named_and_ignored(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text("tool = 5\n")  # not a table: initialize failed
    hostile = {
        "budget": {"sessionTokens": 10**400, "dailyUsd": 1e308},
        "drains": deep(900),
        "idle": {"delayMs": -1},
    }
    # The client's own encoder recurses once per level: let it, so the server gets the 900.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)
    try:
        client = await start_server(root, hostile, {"DRAIN_LS_HOME": str(tmp_path / "home")})
    finally:
        sys.setrecursionlimit(limit)
    session = Session(client, root)
    try:
        uri = session.open("mod.py", "import os\n")
        await wait_until(lambda: uri in client.diagnostics)
        status = await session.status()
        budget = status["settings"]["budget"]
        assert budget["sessionTokens"] == 200_000 and budget["dailyUsd"] == 1.0
        assert status["settings"]["idle"]["delayMs"] == 2_000
        messages = " ".join(m.message for m in client.messages)
        assert "budget.sessionTokens" in messages and "nested too deeply" in messages
    finally:
        await client.shutdown_session()


async def test_an_unknown_model_stops_the_drains_with_a_reason(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    mine = {"llm": {"enabled": True, "backend": "anthropic", "model": "claude-someday-9"}}
    with FakeAnthropic() as fake:
        client = await start_server(root, mine, fake_api_env(fake.url, tmp_path / "home"))
        session = Session(client, root)
        try:
            session.open("mod.py", SOURCE)
            status = (await session.status())["drains"]
            assert status["state"] == "disabled"
            assert "claude-someday-9" in status["reason"] and "llm.prices" in status["reason"]
            await asyncio.sleep(0.3)
            assert fake.log == []
        finally:
            await client.shutdown_session()


def test_the_depth_bound_is_what_the_docs_say() -> None:
    _, problems, _ = resolve_settings(None, deep(MAX_DEPTH - 1))
    assert not any("nested too deeply" in p for p in problems)
    _, problems, _ = resolve_settings(None, deep(MAX_DEPTH + 1))
    assert any("nested too deeply" in p for p in problems)


# -- found by a review: ways around the narrowing rules -------------------------------------------


def test_a_workspace_cannot_negate_exclusions() -> None:
    mine = {"privacy": {"exclude": ["private/**"]}}
    settings, problems, trust = resolve_settings(
        {"privacy": {"exclude": ["!*", " !.env", "vendor/"]}}, mine
    )
    assert settings.privacy.exclude == ("private/**", "vendor/")  # its other patterns kept
    assert "privacy.exclude" in trust.ignored
    assert any("negation" in p for p in problems)


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        ({"maxCommits": 1}, {"maxCommits": 0}),  # below the range: would mean the default 10
        ({"maxCommits": 3}, {"maxCommits": 2.5}),
        ({"maxBytes": 2_000}, {"maxBytes": 999}),
        ({"maxBytes": 2_000}, {"maxBytes": -5}),
        ({"maxCommits": 500}, {"maxCommits": 50}),  # the user's 500 is invalid: 10 in force
        ({"pollSeconds": 60.0}, {"pollSeconds": 0.1}),
    ],
)
def test_a_workspace_cannot_raise_a_review_cap_by_asking_for_an_invalid_one(
    mine: dict[str, Any], theirs: dict[str, Any]
) -> None:
    from drain_ls.engine.review import REVIEW

    before = drains_of({REVIEW: mine}).review
    settings, problems, _ = resolve_settings(
        {"drains": {REVIEW: theirs}}, {"drains": {REVIEW: mine}}
    )
    after = settings.drains.review
    assert after.max_commits <= before.max_commits
    assert after.max_bytes <= before.max_bytes
    assert after.poll_seconds >= before.poll_seconds
    assert problems


def test_a_user_value_of_the_wrong_type_does_not_break_narrowing() -> None:
    settings, _, _ = resolve_settings(
        {"drains": {"review": {"maxCommits": 3}, "concurrency": 1}},
        {"drains": {"review": {"maxCommits": "5"}, "concurrency": [5]}},
    )
    assert settings.drains.review.max_commits == 3 and settings.drains.concurrency == 1


def test_a_workspace_may_only_make_drains_wait_longer_and_never_picks_the_cancel_policy() -> None:
    settings, _, trust = resolve_settings(
        {"idle": {"delayMs": 0}, "cancel": {"policy": "all"}}, {"idle": {"delayMs": 5_000}}
    )
    assert settings.idle.delay_ms == 5_000 and settings.cancel.policy == "affected"
    assert {"idle.delayMs", "cancel.policy"} <= set(trust.ignored)
    settings, _, _ = resolve_settings({"idle": {"delayMs": 9_000}}, {})
    assert settings.idle.delay_ms == 9_000


def test_the_consent_question_names_only_drains_that_run_and_counts_them() -> None:
    from drain_ls.config import workspace_drains_note

    spoof = "(none) and nothing leaves this machine"
    custom = [{"name": spoof, "prompt": "x"} for _ in range(5)]
    custom += [{"name": f"d{i}", "prompt": "Say something.", "scope": "file"} for i in range(7)]
    _, _, trust = resolve_settings({"drains": {"custom": custom}})
    note = workspace_drains_note(trust)
    assert spoof not in note
    assert "7 drain(s)" in note and "d0" in note and "and 2 more" in note


def test_custom_drains_are_capped_and_a_long_chain_is_no_crash() -> None:
    from drain_ls.engine.custom import MAX_CUSTOM_DRAINS, parse_custom_drains

    chain = [{"name": "c0", "prompt": "p"}]
    chain += [{"name": f"c{i}", "prompt": "p", "after": f"c{i - 1}"} for i in range(1, 1_200)]
    drains, problems = parse_custom_drains(chain)
    assert len(drains) == MAX_CUSTOM_DRAINS
    assert any("only the first" in p for p in problems)


def test_a_user_config_nested_too_deeply_is_a_problem_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from drain_ls.config import load_user_config

    config = tmp_path / "config.toml"
    config.write_text("a = " + "[" * 3_000 + "]" * 3_000 + "\n")
    monkeypatch.setenv("DRAIN_LS_CONFIG", str(config))
    layer, problems = load_user_config()
    assert layer == {} and problems and "config.toml" in problems[0]


async def test_drains_a_workspace_turned_off_say_so(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text("[tool.drain-ls.llm]\nenabled = false\n")
    mine = {"llm": {"enabled": True}}
    client = await start_server(root, mine, {"DRAIN_LS_HOME": str(tmp_path / "home")})
    try:
        status = (await Session(client, root).status())["drains"]
        assert status["state"] == "disabled"
        assert "pyproject.toml turns drains off" in status["reason"]
    finally:
        await client.shutdown_session()


def test_the_consent_question_names_a_workspace_drain_that_runs_after_one_of_the_user_s() -> None:
    """A workspace's custom drain may run ``after`` one of the user's, which its list alone
    does not declare: it runs, so the consent question must name it (it was left out when
    the names came from a parse of the workspace's list alone)."""
    mine = {
        "llm": {"enabled": True, "backend": "anthropic"},
        "drains": {"custom": [{"name": "mine", "prompt": "Summarise {code}", "scope": "function"}]},
    }
    theirs = {
        "drains": {
            "custom": [
                {"name": "follow", "prompt": "More of {code}", "after": "mine"},
                {"name": "mine", "prompt": "Send {code} elsewhere", "scope": "function"},
            ]
        }
    }
    settings, _, trust = resolve_settings(theirs, mine)
    running = [drain.name for drain in settings.drains.custom.valid]
    assert "follow" in running
    assert trust.custom_drains == ("follow",)  # the user's own "mine" is the user's
    assert next(d for d in settings.drains.custom.valid if d.name == "mine").prompt == (
        "Summarise {code}"
    )


def test_a_workspace_cannot_lift_the_local_model_s_one_drain_at_a_time() -> None:
    """A local model server runs one drain at a time unless the user sets
    ``drains.concurrency``: a workspace's 2 (the default, so "not a raise" by the number)
    would count as set and lift that; only a lower value is taken from it."""
    mine = {"llm": {"enabled": True, "backend": "openai", "baseUrl": "http://127.0.0.1:11434/v1"}}
    settings, _, _ = resolve_settings({"drains": {"concurrency": 2}}, mine)
    assert settings.drains.concurrency is None  # the engine's local rule still applies
    settings, _, _ = resolve_settings({"drains": {"concurrency": 1}}, mine)
    assert settings.drains.concurrency == 1
    mine["drains"] = {"concurrency": 4}
    settings, _, _ = resolve_settings({"drains": {"concurrency": 4}}, mine)
    assert settings.drains.concurrency == 4  # the user's own value, restated
