"""The floor under ``drain-ls check``: read and parse files with tree-sitter in drain-ls's
worker pool, and nothing else (no analysis, no output but a count).

    python benchmarks/parse_only.py [--jobs N] FILE...

``check_stdlib.py`` times it in the same run as ``drain-ls check`` and ruff: what drain-ls
takes above this line is its own analysis, reporting and start-up. It runs in the same
worker pool (``drain_ls.pool``) with the same number of processes as ``drain-ls check``
(``--jobs``, default one per core), so that the floor is parallel exactly as the check is:
on 2 cores, both halve.
"""

from __future__ import annotations

import argparse
import os

from drain_ls.analysis.source import parse
from drain_ls.files import read_source
from drain_ls.pool import map_files


def _parse(path: str) -> int:
    """1 when the file has a syntax error (so the parse cannot be optimised away)."""
    source, _ = read_source(path)  # as drain-ls reads it (NUL and UTF-8 checks)
    return 0 if source is None else int(parse(source).root_node.has_error)


def _lost(path: str, reason: str) -> int:
    return 0


def main() -> int:
    """Parse the files named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("files", nargs="+")
    args = parser.parse_args()
    errors = sum(map_files(args.files, args.jobs, _parse, _lost, cost=os.path.getsize))
    print(f"{len(args.files)} files parsed, {errors} with a syntax error")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
