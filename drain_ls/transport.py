"""Reading the client's messages from stdin on the event loop itself.

pygls reads stdin through a thread pool: three hand-offs to a worker thread per message (the
``Content-Length`` line, the blank line, the body), each a wake-up of another thread and a
fight for the GIL with the analysis. When stdin is a pipe, as it is under every editor that
starts the server, the event loop can watch it directly (``connect_read_pipe``): a message
that has arrived is read with no thread at all.

Anything else (a terminal, a file, a socket shared with stdout, Windows) keeps pygls's reader:
making stdin non-blocking would also make a stdout that shares its file description
non-blocking, and a large response could then fail half-written.
"""

from __future__ import annotations

import asyncio
import os
import stat
from typing import BinaryIO

# A header line longer than this is not LSP: the reader stops rather than buffer it.
MAX_HEADER_LINE = 1 << 16


class PipeReader:
    """pygls's ``AsyncReader`` (``readline``, ``readexactly``) over an asyncio stream."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        """Read from ``stream``, already connected to the pipe."""
        self.stream = stream

    async def readline(self) -> bytes:
        """The next line with its line break; ``b""`` at the end of the input."""
        try:
            return await self.stream.readline()
        except ValueError:  # a line over the limit: not a client we can talk to
            return b""

    async def readexactly(self, n: int) -> bytes:
        """The next ``n`` bytes; fewer (maybe none) only at the end of the input."""
        try:
            return await self.stream.readexactly(n)
        except asyncio.IncompleteReadError as exc:
            return exc.partial


def is_own_pipe(stdin: BinaryIO, stdout: BinaryIO) -> bool:
    """Whether ``stdin`` is a pipe that shares nothing with ``stdout`` (POSIX only)."""
    if os.name != "posix":
        return False
    try:
        fd_in = stdin.fileno()
        info = os.fstat(fd_in)
        out = os.fstat(stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False
    if not stat.S_ISFIFO(info.st_mode):
        return False
    return (info.st_dev, info.st_ino) != (out.st_dev, out.st_ino)


async def pipe_reader(stdin: BinaryIO) -> PipeReader | None:
    """A reader of ``stdin`` on the running loop, or None when the loop cannot watch it."""
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(limit=MAX_HEADER_LINE, loop=loop)
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stream), stdin)
    except (OSError, ValueError, NotImplementedError):
        return None
    return PipeReader(stream)
