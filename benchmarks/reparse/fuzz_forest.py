"""Random edit sessions against chunked documents (drain_ls.analysis.forest), for as long as asked.

    python benchmarks/reparse/fuzz_forest.py SEED SECONDS [GAP_LINES]

With GAP_LINES, runs of that many comment lines are left out of every parse (normally 64;
``drain_ls.analysis.source.comment_gaps``), and each edit also checks that a parse with the
gaps has the nodes of a parse without them, comments aside (``assert_gaps_change_nothing``).

Each session: the sample of tests/test_forest.py (1-3 copies), a chunk size of 1-5 lines,
up to 30 random edits (often at line starts) from that test's pieces, ``settle`` now and
then; after every edit, ``assert_sound`` (every chunk equals a fresh parse of its range,
errors where a whole parse has them, a clean document has the whole parse's nodes). Prints
the first failing session (chunk size, copies, settles, edits) or how many passed.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from pathlib import Path
from unittest.mock import patch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))
from test_comment_runs import assert_gaps_change_nothing
from test_forest import PIECES, START, apply_edit, assert_sound

from drain_ls.analysis import forest
from drain_ls.analysis import source as source_module
from drain_ls.lsp.documents import Document


def main() -> int:
    rng = random.Random(int(sys.argv[1]))
    deadline = time.time() + float(sys.argv[2])
    gap_lines = int(sys.argv[3]) if len(sys.argv) > 3 else None
    sessions = 0
    while time.time() < deadline:
        chunk_lines = rng.choice([1, 2, 3, 5])
        copies = rng.choice([1, 2, 3])
        with (
            patch.object(forest, "CHUNK_LINES", chunk_lines),
            patch.object(source_module, "LONG_COMMENT_RUN", gap_lines or 64),
        ):
            doc = Document("file:///m.py", (START * copies).encode(), 1)
            settles = []
            if rng.random() < 0.5:
                doc.tree.settle()
                settles.append(0)
            edits = []
            for _ in range(rng.randint(1, 30)):
                where = rng.random()
                length = rng.choice([0, 0, 0, 1, 1, 2, 4, 30])
                text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 3)))
                edits.append((where, length, text))
                apply_edit(doc, where, length, text)
                if rng.random() < 0.2:
                    doc.tree.settle()
                    settles.append(len(edits))
                try:
                    assert_sound(doc)
                    if gap_lines:
                        assert_gaps_change_nothing(doc.source)
                except AssertionError:
                    print("FAIL", chunk_lines, copies, settles, edits)
                    traceback.print_exc(limit=-1)
                    return 1
        sessions += 1
    print("ok", sessions, "sessions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
