"""The server's logs: to the client (``window/logMessage``) and, if asked, a file; never to
stdout, which carries the protocol."""

from __future__ import annotations

import logging
from typing import ClassVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer


class ClientLogHandler(logging.Handler):
    """Sends log records to the client as ``window/logMessage``."""

    LEVELS: ClassVar[dict[int, types.MessageType]] = {
        logging.DEBUG: types.MessageType.Debug,
        logging.INFO: types.MessageType.Info,
        logging.WARNING: types.MessageType.Warning,
        logging.ERROR: types.MessageType.Error,
        logging.CRITICAL: types.MessageType.Error,
    }

    def __init__(self, server: LanguageServer) -> None:
        """Log to ``server``'s client."""
        super().__init__(logging.INFO)
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        """Send one record as ``window/logMessage`` (never raises)."""
        if self.server.protocol.writer is None:
            return  # not connected yet
        try:
            message = self.format(record)
            kind = self.LEVELS.get(record.levelno, types.MessageType.Log)
            self.server.window_log_message(types.LogMessageParams(type=kind, message=message))
        except Exception:  # logging must never break the server
            pass


def configure_logging(server: LanguageServer, log_file: str | None, level: str = "INFO") -> None:
    """Logs go to the client and, if asked, a file; never to stdout (that is the protocol)."""
    root = logging.getLogger("drain_ls")
    root.setLevel(level)
    root.propagate = False
    handler = ClientLogHandler(server)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    # pygls logs every message at INFO: far too much, and it could carry document text.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    if log_file:
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
        root.addHandler(file_handler)
        logging.getLogger("pygls").addHandler(file_handler)
