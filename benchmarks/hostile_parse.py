"""Shapes of text that tree-sitter-python parses in time quadratic in their length, and what
drain-ls makes of them.

For each shape, the text repeated ``n`` and ``2n`` times: tree-sitter's parse alone, and
drain-ls's whole check of the file (``check_source``, what a ``drain-ls check`` worker runs)
and the editor's document (``Document``: the parse behind every diagnostic). Doubling the
length of a linear shape doubles its time; a quadratic one's grows fourfold. A clean module
of the same size is the yardstick.

    python benchmarks/hostile_parse.py [--n 4000]

What drain-ls does about each (``docs/rules/check.md``): open named escapes are given to
tree-sitter so that it parses them in linear time; long runs of comment lines are left out of
the parse; for the rest, ``drain-ls check`` gives each file a time limit, and the editor stops
parsing a document whose parse was too slow.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from drain_ls.analysis.checker import check_source
from drain_ls.analysis.source import _parser
from drain_ls.lsp.documents import Document

SHAPES: dict[str, Callable[[int], bytes]] = {
    "clean module (yardstick)": lambda n: b"def f(x):\n    return x\n" * (n // 2),
    'open named escapes: x = "\\N{"': lambda n: b'x = "\\N{"\n' * n,
    "comment lines after code": lambda n: b"x = 1\n" + b"# c\n" * n,
    "lines that are only a backslash": lambda n: b"x = 1\n" + b"\\\n" * n,
    "a chain of x\\ lines": lambda n: b"x\\\n" * n,
    "x = 1 \\ lines (errors nested)": lambda n: b"x = 1 \\\n" * n,
    "print( left open at the top": lambda n: b"print(\n" + b"x = 1\n" * n,
}


def _seconds(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="repetitions (and twice that)")
    n = parser.parse_args().n
    tree_sitter = _parser()
    print(
        f"{'shape':34} {'KB':>6} {'parse':>8} {'x2 len':>8} {'growth':>6} "
        f"{'check':>8} {'x2 len':>8} {'document':>9} {'x2 len':>8}"
    )
    for name, make in SHAPES.items():
        row = []
        for source in (make(n), make(2 * n)):
            row.append(
                (
                    _seconds(lambda s=source: tree_sitter.parse(s)),
                    _seconds(lambda s=source: check_source(s, "m.py")),
                    _seconds(lambda s=source: Document("file:///m.py", s, 1).tree),
                )
            )
        (parse1, check1, doc1), (parse2, check2, doc2) = row
        print(
            f"{name:34} {len(make(n)) / 1024:6.0f} {parse1:8.3f} {parse2:8.3f} "
            f"{parse2 / max(parse1, 1e-6):6.1f} {check1:8.3f} {check2:8.3f} "
            f"{doc1:9.3f} {doc2:8.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
