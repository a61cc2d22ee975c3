"""The HTTP server of the project's fakes (``fake_anthropic``, ``fake_openai``): threaded, on
127.0.0.1 at a free port, every request handed to the fake's ``_handle``."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol


class Handles(Protocol):
    """A fake that answers a request (reads it from, and writes its answer to, ``request``)."""

    def _handle(self, request: BaseHTTPRequestHandler) -> None: ...


class LocalServer:
    """Serves a fake until ``close``: ``root`` is its URL (``http://127.0.0.1:PORT``)."""

    def __init__(self, fake: Handles, port: int = 0) -> None:
        """Start serving ``fake`` on a thread (a thread per request), on ``port`` (0: a free
        one; a given one plays a server started at a known address)."""

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def root(self) -> str:
        """The server's URL, without a path."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        """Stop serving and release the port."""
        self.server.shutdown()
        self.server.server_close()
