"""mkdocs hooks: the configuration reference is rendered from the settings at every build.

``docs/configuration.md`` holds a begin and an end marker; the build replaces them, and what
is between them, with ``drain_ls.settings_reference.render()``, so the reference is never a
file someone has to regenerate by hand. A build whose configuration page lost its markers
fails.
"""

from __future__ import annotations

import re
from typing import Any

from mkdocs.exceptions import PluginError

from drain_ls.settings_reference import render

BEGIN, END = "<!-- settings-reference -->", "<!-- /settings-reference -->"
PAGE = "configuration.md"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Put the rendered reference in place of the markers on the configuration page."""
    if page.file.src_uri != PAGE:
        return markdown
    region = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if len(region.findall(markdown)) != 1:
        raise PluginError(f"docs/{PAGE} must hold {BEGIN} ... {END} once: the settings reference")
    return region.sub(lambda _: render(), markdown)
