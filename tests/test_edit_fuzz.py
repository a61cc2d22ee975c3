"""A short seeded run of the edit fuzz (``benchmarks/edit_fuzz.py``): the incremental check of
real standard library files, edited as users edit, equals a fresh check after every keystroke,
in the configurations that matter (chunks of 100 lines and of one, batched keystrokes, the
server's provisional checks, CRLF, older targets). And the harness itself: a difference it
must see is seen, minimised, and replayed from its JSON."""

from __future__ import annotations

import random
import sys
import sysconfig
import weakref
from collections.abc import Iterator
from pathlib import Path
from unittest.mock import patch

import pytest

from drain_ls.analysis.incremental import IncrementalChecker
from drain_ls.analysis.model import Finding

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from edit_fuzz import Case, Config, fuzz_session, minimise, run

LIB = Path(sysconfig.get_paths()["stdlib"])
# In every CPython from 3.11 on, 110 to 770 lines each.
FILES = [LIB / name for name in ("textwrap.py", "shlex.py", "fractions.py", "colorsys.py")]
FILES += [LIB / "calendar.py", LIB / "bisect.py"]

OPS = 60
# (file, seed, configuration): a few seconds each on one core.
SESSIONS = [
    (FILES[0], 1, Config()),
    (FILES[1], 2, Config(chunk_lines=1, batch=True, fix_factories=True, target="py39")),
    (FILES[2], 3, Config(chunk_lines=3, server=True, target="py311", cross_scan=True)),
    (FILES[3], 4, Config(server=True, crlf=True, batch=True)),
    (FILES[4], 5, Config(chunk_lines=1, server=True, crlf=True, target="py311")),
    (FILES[5], 6, Config(chunk_lines=50, fix_factories=True, target="py39", cross_scan=True)),
    # The token scan's tree query (an install without the C module), in chunks: it raised on
    # every chunked document (found by this fuzz).
    (FILES[2], 7, Config(chunk_lines=3, tree_query=True, server=True, crlf=True)),
]


@pytest.mark.parametrize(
    ("path", "seed", "config"), SESSIONS, ids=[f"{p.stem}-{s}" for p, s, _ in SESSIONS]
)
def test_incremental_checks_equal_fresh_ones(path: Path, seed: int, config: Config) -> None:
    outcome, case = fuzz_session(path, config, random.Random(seed), ops=OPS, pool=FILES)
    assert outcome.stats["checks"] > OPS // 2
    assert case is None, f"replay with benchmarks/edit_fuzz.py --replay:\n{case.to_json()}"


@pytest.fixture
def dropping() -> Iterator[None]:
    """The incremental check loses its last finding after the first check."""
    original = IncrementalChecker.check
    # (By the checker itself: the id of one that is gone may be another's.)
    calls: weakref.WeakKeyDictionary[IncrementalChecker, int] = weakref.WeakKeyDictionary()

    def check(self: IncrementalChecker, *args: object, **kwargs: object) -> list[Finding]:
        found = original(self, *args, **kwargs)  # type: ignore[arg-type]
        calls[self] = calls.get(self, 0) + 1
        return found[:-1] if calls[self] > 1 else found

    with patch.object(IncrementalChecker, "check", check):
        yield


def test_a_lost_finding_is_caught_minimised_and_replayed(dropping: None) -> None:
    _, case = fuzz_session(FILES[0], Config(), random.Random(7), ops=5)
    assert case is not None and case.failure.kind == "tree"
    # The finding the incremental check lost, and nothing else, is what differs.
    assert len(case.failure.detail) == 1
    assert case.failure.detail[0].startswith("fresh: (")
    smaller = minimise(case, seconds=15)
    assert smaller.failure.signature == case.failure.signature
    assert len(smaller.steps) <= len(case.steps)
    assert len(smaller.text) < len(case.text)
    again = Case.from_json(smaller.to_json())
    assert again == smaller
    replayed = run(again.text, again.config, lambda _: again.steps)
    assert replayed.failure == smaller.failure


def test_the_same_session_passes_without_the_loss() -> None:
    outcome, case = fuzz_session(FILES[0], Config(), random.Random(7), ops=5)
    assert case is None
    assert outcome.stats["checks"] > 5
