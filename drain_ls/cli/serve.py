"""``drain-ls [serve]``: the language server, on stdio or TCP (the one command that imports
``drain_ls.lsp``, when it runs)."""

from __future__ import annotations

import argparse

from drain_ls.cli.common import EXIT_CLEAN


def command_serve(args: argparse.Namespace) -> int:
    """``drain-ls [serve]``: the language server."""
    from drain_ls.lsp.handlers import create_server
    from drain_ls.lsp.server import configure_logging

    server = create_server()
    configure_logging(server, args.log_file, args.log_level)
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()
    return EXIT_CLEAN
