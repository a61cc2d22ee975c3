"""File URIs to paths, for modules that must not import pygls (``tests/test_layers.py``).

``uri_to_path`` gives what ``pygls.uris.to_fs_path`` gives (pygls 1.x): the URI is split by
``urllib.parse.urlparse`` (so ``;params``, ``?query`` and ``#fragment`` are cut off) and each
part is percent-decoded (invalid UTF-8 becomes U+FFFD). ``tests/test_uris.py`` compares the
two on many URIs.
"""

from __future__ import annotations

import os
import re
from urllib import parse

_DRIVE_LETTER = re.compile(r"^/[a-zA-Z]:")


def uri_to_path(uri: str) -> str | None:
    """The file-system path of a ``file:`` URI; ``None`` for any other scheme.

    ``file://host/share/x`` is the UNC path ``//host/share/x``; ``file:///C:/x`` is ``c:/x``
    (drive letter lower-cased); ``file://host`` with no path is the empty string. On Windows
    the separators become backslashes."""
    parts = parse.urlparse(uri)
    if parse.unquote(parts.scheme) != "file":
        return None
    netloc = parse.unquote(parts.netloc)
    path = parse.unquote(parts.path)
    if netloc and path:
        value = f"//{netloc}{path}"
    elif _DRIVE_LETTER.match(path):
        value = path[1].lower() + path[2:]
    else:
        value = path
    if os.name == "nt":
        value = value.replace("/", "\\")
    return value
