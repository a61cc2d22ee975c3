"""The user's own settings file (TOML, the ``[tool.drain-ls]`` names at the top level):
where it is (``user_config_path``) and its layer (``load_user_config``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from drain_ls.config.layers import camelize_keys


def user_config_path() -> Path:
    """The user's own settings file (TOML, the ``[tool.drain-ls]`` names at the top level):
    ``$DRAIN_LS_CONFIG``, else ``config.toml`` in ``$DRAIN_LS_HOME`` when that is set, else
    in the platform's config directory (``~/.config/drain-ls/config.toml`` on Linux)."""
    explicit = os.environ.get("DRAIN_LS_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("DRAIN_LS_HOME")
    if home:
        return Path(home).expanduser() / "config.toml"
    import platformdirs

    return Path(platformdirs.user_config_dir("drain-ls", appauthor=False)) / "config.toml"


def load_user_config() -> tuple[dict[str, Any], list[str]]:
    """The user config file as a camelCased layer (empty when there is none), and the
    problems reading it."""
    import tomllib

    from drain_ls.files import MAX_CONFIG_BYTES, UnreadableFile, read_regular

    path = user_config_path()
    try:
        data = tomllib.loads(read_regular(path, MAX_CONFIG_BYTES).decode("utf-8"))
    except FileNotFoundError:
        return {}, []
    except (UnreadableFile, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return {}, [f"cannot read {path}: {exc}"]
    except RecursionError:
        return {}, [f"cannot read {path}: nested too deeply"]
    return camelize_keys(data), []
