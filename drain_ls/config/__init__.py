"""Typed settings, merged from the user's layers and, narrowed, from the workspace's.

**The trust model.** A workspace is untrusted input: a repository the user just cloned wrote
its ``pyproject.toml``. So settings come from two kinds of source:

- *the user's*, lowest precedence first: the defaults, the user config file
  (``user_config_path``), ``initializationOptions``, then what the client answers to
  ``workspace/configuration`` (section ``drainLs``) or sends with
  ``workspace/didChangeConfiguration``; on the command line, the user config file and the flags;
- *the workspace's*: ``[tool.drain-ls]`` in its ``pyproject.toml`` (kebab-case names).

Every field says (``trust`` in its metadata) what a workspace may do with it: ``free``
(static checks: what to select, the docstring style; the user's value, when set, wins),
``lower`` / ``raise`` (a cap a workspace may only lower, a margin or a reserve it may only
raise), ``off`` (a switch it may only turn off), ``on`` (one it may only turn on: consent,
redaction), ``more`` (a list it may only extend: exclusions), ``offline`` (the backend: it may
only choose the offline one), and ``user`` (the model, prices, budget source, batches: never
from a workspace). So a repository can narrow what drain-ls sends and spends, never widen it:
it cannot turn on sending, choose where code goes, skip consent or redaction, or raise a cap.
What it tried is reported once, with the setting's name. A workspace's custom drains are
kept, but the consent question names them and is asked again when they change
(``WorkspaceTrust.fingerprint``).

Every layer is bounded before it is read: nesting deeper than ``MAX_DEPTH`` is dropped, every
number is finite and inside its field's range, and a value of the wrong type is reported with
the setting's name and replaced by the default.
The package, by what each module holds:

- ``fields``: what every field carries: its metadata, and its alias (the camelCase name
  users write; the Python name is snake_case);
- ``settings``: the settings' definitions (the dataclasses and their fields' metadata);
- ``drains``: the ``drains`` table's (switches, review limits, concurrency, custom drains);
- ``layers``: the user's layers bounded, merged and validated (``build_settings``);
- ``trust``: a workspace's layer narrowing the user's (``resolve_settings``), what it
  brought (``WorkspaceTrust``), what consent is remembered for;
- ``user_file``: the user config file.
"""

from __future__ import annotations

from drain_ls.config.drains import (
    DEFAULT_CONCURRENCY,
    CustomDrains,
    DrainsSettings,
    DrainSwitch,
    ReviewSettings,
)
from drain_ls.config.fields import alias, fields_by_alias, snake_to_camel
from drain_ls.config.layers import (
    MAX_DEPTH,
    MAX_PRICE,
    bound_layer,
    build_settings,
    camelize_keys,
    check_prices,
    deep_merge,
    kebab_to_camel,
)
from drain_ls.config.settings import (
    BudgetSettings,
    CancelSettings,
    DiagnosticsSettings,
    IdleSettings,
    LlmSettings,
    PrivacySettings,
    Settings,
    Trust,
    requires_python_layer,
    select_codes,
    settings_to_json,
)
from drain_ls.config.trust import (
    WorkspaceTrust,
    consent_key,
    narrow_drains,
    resolve_settings,
    workspace_drains_note,
)
from drain_ls.config.user_file import load_user_config, user_config_path

__all__ = [
    "DEFAULT_CONCURRENCY",
    "MAX_DEPTH",
    "MAX_PRICE",
    "BudgetSettings",
    "CancelSettings",
    "CustomDrains",
    "DiagnosticsSettings",
    "DrainSwitch",
    "DrainsSettings",
    "IdleSettings",
    "LlmSettings",
    "PrivacySettings",
    "ReviewSettings",
    "Settings",
    "Trust",
    "WorkspaceTrust",
    "alias",
    "bound_layer",
    "build_settings",
    "camelize_keys",
    "check_prices",
    "consent_key",
    "deep_merge",
    "fields_by_alias",
    "kebab_to_camel",
    "load_user_config",
    "narrow_drains",
    "requires_python_layer",
    "resolve_settings",
    "select_codes",
    "settings_to_json",
    "snake_to_camel",
    "user_config_path",
    "workspace_drains_note",
]
