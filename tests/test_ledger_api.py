"""The ledger's read API (issue 19): typed rows, keyword filters, and no SQL from outside.

- Nothing outside ``drain_ls/ledger/`` runs SQL on the ledger: no module of drain_ls (nor a
  benchmark) calls ``execute``/``executemany``/``executescript``, opens an SQLite file
  (``sqlite3.connect``), holds SQL text (a statement, or a condition such as
  ``"batch_id = ?"`` to hand a ledger method) or reaches a ledger's connection (``.db``, ``.query``, ``._reading``,
  ``._transaction``, ``._connection``, ...); tests reach it only through the documented helper
  ``tests/ledger_file.py`` (``tests/fixtures/`` is data, not read). Read with ``ast``:
  nothing is imported.
- Every read returns frozen, slotted dataclasses whose fields have the schema's types
  (statuses as enums, costs as floats, nullable columns as None), and its filters combine.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
import sqlite3
import typing
from datetime import date
from pathlib import Path

import pytest

from drain_ls.budget import Limits, Price, Usage
from drain_ls.ledger import (
    BatchRow,
    BatchStatus,
    DayTotals,
    DeferredRow,
    DrainCost,
    Ledger,
    LedgerError,
    ReportEntry,
    Reservation,
    ResultRow,
    RunRow,
    RunStatus,
)
from tests.ledger_file import raw_rows

ROOT = Path(__file__).resolve().parent.parent
HAIKU = Price(1.0, 5.0)
DAY = 1_795_000_000.0  # 2026-11-18, 8:26 UTC

# -- nothing outside drain_ls/ledger/ runs SQL on the ledger ---------------------------------

# Attributes that are a ledger's connection or run SQL on it.
LEDGER_INSIDES = frozenset(
    {"db", "query", "_reading", "_transaction", "_connection", "_insert_run", "_local"}
)
SQL_CALLS = frozenset({"execute", "executemany", "executescript"})
# A string that is SQL: a statement, or a condition with a parameter (``"batch_id = ?"``).
SQL_TEXT = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\bPRAGMA\s+\w+|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX)\b"
    r"|\w+ (=|!=|<|>|<=|>=|IN|IS) (\?|\(\?|NULL|NOT NULL)"
)
# The one module of tests/ that may reach a ledger's connection (to make a fault).
TEST_HELPER = "tests/ledger_file.py"


def offences(root: Path) -> list[str]:
    """Where the tree at ``root`` runs SQL on the ledger from outside ``drain_ls/ledger/``."""
    found = []
    files = [
        *(root / "drain_ls").rglob("*.py"),
        *(root / "benchmarks").rglob("*.py"),
        *(p for p in (root / "tests").rglob("*.py") if "fixtures" not in p.parts),
    ]
    for path in sorted(files):
        where = path.relative_to(root).as_posix()
        if where.startswith("drain_ls/ledger/") or where == TEST_HELPER:
            continue
        in_tests = where.startswith("tests/")
        tree = ast.parse(path.read_bytes(), where)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if not in_tests and SQL_TEXT.search(node.value):
                    found.append(f"{where}:{node.lineno}: SQL text {node.value[:40]!r}")
                continue
            if not isinstance(node, ast.Attribute):
                continue
            if node.attr in LEDGER_INSIDES:
                found.append(f"{where}:{node.lineno}: .{node.attr} (the ledger's connection)")
            elif in_tests:
                continue  # tests may write to the file as another process would
            elif node.attr in SQL_CALLS:
                found.append(f"{where}:{node.lineno}: .{node.attr}(...) runs SQL")
            elif (
                node.attr == "connect"
                and isinstance(node.value, ast.Name)
                and node.value.id == "sqlite3"
            ):
                found.append(f"{where}:{node.lineno}: sqlite3.connect opens an SQLite file")
    return sorted(found)


def test_nothing_outside_the_ledger_runs_sql_on_it() -> None:
    found = offences(ROOT)
    assert not found, (
        "SQL on the ledger outside drain_ls/ledger/: add a typed read (keyword filters, a row "
        "dataclass in drain_ls/ledger/rows.py) and call that; tests that need the file as "
        "SQLite keeps it use tests/ledger_file.py:\n  " + "\n  ".join(found)
    )


def test_the_scan_catches_sql_on_the_ledger(tmp_path: Path) -> None:
    """The rule catches what the old API let callers do (``Ledger.query``, ``ledger.db``)."""
    for folder in ("drain_ls/ledger", "drain_ls/cli", "benchmarks", "tests"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "drain_ls/ledger/runs.py").write_text("db.execute('SELECT 1')\n")
    (tmp_path / "drain_ls/cli/report.py").write_text(
        "rows = ledger.query('SELECT * FROM runs')\n"
        "ledger.db.execute('DELETE FROM runs')\n"
        "import sqlite3\nsqlite3.connect('ledger.sqlite3')\n"
    )
    (tmp_path / "benchmarks/costs.py").write_text("self.ledger._reading()\n")
    (tmp_path / "drain_ls/cli/batches.py").write_text(
        "ledger.runs('batch_id = ? AND status = \\'batched\\'', (batch_id,))\n"
        "ledger.runs('batch_id IS NOT NULL')\n"
        "print('SELECT a model')  # not SQL\n"
    )
    (tmp_path / "tests/test_x.py").write_text(
        "ledger.db.execute('PRAGMA user_version')\n"
        "outsider = sqlite3.connect(path)\noutsider.execute('DROP TABLE runs')\n"
    )
    (tmp_path / "tests/ledger_file.py").write_text("ledger._connection().execute('x')\n")
    assert offences(tmp_path) == [
        "benchmarks/costs.py:1: ._reading (the ledger's connection)",
        "drain_ls/cli/batches.py:1: SQL text \"batch_id = ? AND status = 'batched'\"",
        "drain_ls/cli/batches.py:2: SQL text 'batch_id IS NOT NULL'",
        "drain_ls/cli/report.py:1: .query (the ledger's connection)",
        "drain_ls/cli/report.py:1: SQL text 'SELECT * FROM runs'",
        "drain_ls/cli/report.py:2: .db (the ledger's connection)",
        "drain_ls/cli/report.py:2: .execute(...) runs SQL",
        "drain_ls/cli/report.py:2: SQL text 'DELETE FROM runs'",
        "drain_ls/cli/report.py:4: sqlite3.connect opens an SQLite file",
        "tests/test_x.py:1: .db (the ledger's connection)",
    ]


def test_callers_cannot_hand_the_ledger_sql(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    assert not hasattr(ledger, "query") and not hasattr(ledger, "db")
    with pytest.raises(TypeError):
        ledger.runs("status = 'done'")  # type: ignore[misc]
    with pytest.raises(ValueError):
        ledger.runs(status="done' OR 1 = 1 --")  # type: ignore[arg-type]


# -- the typed reads --------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = DAY

    def __call__(self) -> float:
        return self.now


def reserve(
    ledger: Ledger,
    *,
    drain: str = "docstrings",
    workspace: str = "/w",
    scope_key: str = "f",
    key: str = "h",
    model: str = "claude-haiku-4-5",
    tier: int = 2,
) -> Reservation:
    made = ledger.reserve(
        drain=drain,
        workspace=workspace,
        scope_key=scope_key,
        content_hash=key,
        model=model,
        tier=tier,
        input_estimate=100,
        max_tokens=100,
        limits=Limits(),
        price=HAIKU,
    )
    assert isinstance(made, Reservation)
    return made


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """Runs of two drains in two workspaces: done, failed, reserved, batched, cached."""
    led = Ledger(tmp_path / "ledger.sqlite3", session="s1", clock=Clock())
    done = reserve(led, scope_key="a", key="ka")
    led.settle(done.run_id, Usage(40, 10, cache_read_tokens=3), "done", HAIKU)
    failed = reserve(led, drain="summaries", scope_key="b", key="kb", tier=1)
    led.settle(failed.run_id, Usage(), "failed", HAIKU)
    reserve(led, workspace="/v", scope_key="a", key="kc", model="claude-sonnet-4-5")
    batched = reserve(led, drain="summaries", workspace="/v", scope_key="c", key="kd")
    led.add_batch("batch-1", "/v", [batched.run_id])
    led.record_hit(drain="docstrings", workspace="/w", scope_key="a", key="ka", model="m")
    return led


def ids(rows: list[RunRow]) -> list[int]:
    return [r.id for r in rows]


def test_runs_filters_combine(ledger: Ledger) -> None:
    everything = ledger.runs()
    assert ids(everything) == [1, 2, 3, 4, 5]  # oldest first
    assert [r.status for r in everything] == [
        RunStatus.DONE,
        RunStatus.FAILED,
        RunStatus.RESERVED,
        RunStatus.BATCHED,
        RunStatus.CACHED,
    ]
    assert ids(ledger.runs(workspace="/w")) == [1, 2, 5]
    assert ids(ledger.runs(workspace="/w", drain="summaries")) == [2]
    assert ids(ledger.runs(workspace="/v", drain="docstrings")) == [3]
    assert ids(ledger.runs(status=RunStatus.DONE)) == [1]
    assert ids(ledger.runs(status=(RunStatus.DONE, RunStatus.CACHED))) == [1, 5]
    assert ids(ledger.runs(status=[RunStatus.DONE, RunStatus.CACHED], workspace="/v")) == []
    assert ids(ledger.runs(status=())) == []
    assert ids(ledger.runs(scope_keys=["a"])) == [1, 3, 5]
    assert ids(ledger.runs(scope_keys={"a", "c"}, workspace="/v")) == [3, 4]
    assert ids(ledger.runs(scope_keys=[])) == []
    assert ids(ledger.runs(model="claude-sonnet-4-5")) == [3]
    assert ids(ledger.runs(tier=1)) == [2]
    assert ids(ledger.runs(run_id=4)) == [4]
    assert ids(ledger.runs(run_id=4, status=RunStatus.DONE)) == []
    assert ids(ledger.runs(batch_id="batch-1", status=RunStatus.BATCHED)) == [4]
    assert ids(ledger.runs(in_batch=True)) == [4]
    assert ids(ledger.runs(in_batch=False, drain="summaries")) == [2]
    assert ledger.run_models(workspace="/w") == ["claude-haiku-4-5", "m"]
    assert ledger.run_models(workspace="/w", status=RunStatus.DONE) == ["claude-haiku-4-5"]
    assert ledger.run_models(workspace="/nowhere") == []


def test_many_scope_keys_are_read_in_chunks_and_in_order(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    names = [f"f{i}" for i in range(1_200)]
    for i in (1_199, 3, 700, 501):  # reserved in this order: ids 1..4
        reserve(ledger, scope_key=names[i], key=f"k{i}")
    found = ledger.runs(scope_keys=names)
    assert ids(found) == [1, 2, 3, 4]
    assert [r.scope_key for r in found] == ["f1199", "f3", "f700", "f501"]


def test_run_rows_have_the_schemas_types(ledger: Ledger) -> None:
    done, failed, reserved, batched, cached = ledger.runs()
    hints = typing.get_type_hints(RunRow)
    assert hints["status"] is RunStatus and hints["cost_usd"] is float
    assert typing.get_args(hints["ended_at"]) == (float, type(None))
    for row in (done, failed, reserved, batched, cached):
        assert isinstance(row, RunRow)
        for name, hint in hints.items():
            value = getattr(row, name)
            assert type(value) in (typing.get_args(hint) or (hint,)), (name, value)
    assert done.session == "s1" and done.day == "2026-11-18" and done.tier == 2
    assert (done.input_tokens, done.output_tokens, done.cache_read_tokens) == (40, 10, 3)
    assert done.billed_tokens == 53
    assert done.cost_usd == pytest.approx((40 * 1.0 + 10 * 5.0 + 3 * 0.1) / 1e6)
    assert done.started_at == DAY and done.ended_at == DAY
    assert failed.cost_usd == 0.0 and isinstance(failed.cost_usd, float)  # stored as 0
    assert reserved.ended_at is None and reserved.batch_id is None
    assert reserved.reserved_tokens > 0 and reserved.reserved_usd > 0
    assert batched.batch_id == "batch-1" and batched.ended_at is None
    assert cached.saved_tokens == 0 and cached.status == "cached"  # a StrEnum: equal to its value
    with pytest.raises(dataclasses.FrozenInstanceError):
        done.status = RunStatus.FAILED  # type: ignore[misc]
    assert not hasattr(done, "__dict__")  # slotted


def test_values_another_process_wrote_are_read_as_their_columns_type(
    ledger: Ledger, tmp_path: Path
) -> None:
    outsider = sqlite3.connect(tmp_path / "ledger.sqlite3")
    outsider.execute(
        "UPDATE runs SET output_tokens = 'lots', cost_usd = 'dear', ended_at = 1e999, "
        "tier = 'two' WHERE id = 1"
    )
    outsider.commit()
    [row] = ledger.runs(run_id=1)
    assert row.output_tokens == 0 and row.tier == 0
    assert math.isnan(row.cost_usd) and row.ended_at == math.inf
    outsider.execute("UPDATE runs SET status = 'exploded' WHERE id = 2")
    outsider.commit()
    outsider.close()
    with pytest.raises(LedgerError, match="unknown status 'exploded'"):
        ledger.runs()
    assert ids(ledger.runs(status=RunStatus.DONE)) == [1]  # the others are still read


def test_a_cached_result_is_a_typed_row(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite3", clock=Clock())
    assert ledger.result("k") is None
    ledger.store_result(
        "k",
        drain="docstrings",
        model="claude-haiku-4-5",
        content_hash="k",
        value={"text": '"""Doc."""', "model": "claude-haiku-4-5-20251001"},
        tokens=120,
        cost=0,
    )
    found = ledger.result("k")
    assert found == ResultRow(
        key="k",
        drain="docstrings",
        model="claude-haiku-4-5-20251001",  # the model that answered, as it said
        content_hash="k",
        text='"""Doc."""',
        tokens=120,
        cost_usd=0.0,
        created_at=DAY,
    )
    assert found is not None and isinstance(found.cost_usd, float)
    outsider = sqlite3.connect(tmp_path / "ledger.sqlite3")
    outsider.execute("UPDATE results SET tokens = 'many', cost_usd = -1, created_at = 'then'")
    outsider.commit()
    provenance = ledger.result("k")
    assert provenance is not None and provenance.text == '"""Doc."""'
    assert (provenance.tokens, provenance.cost_usd, provenance.created_at) == (None, None, None)
    outsider.execute('UPDATE results SET value = \'{"model": "m"}\'')  # no text: damaged
    outsider.commit()
    outsider.close()
    assert ledger.result("k") is None


def test_deferred_batches_and_entries_are_typed_rows(tmp_path: Path) -> None:
    clock = Clock()
    ledger = Ledger(tmp_path / "ledger.sqlite3", clock=clock)
    ledger.defer(
        drain="docstrings",
        workspace="/w",
        scope_key="f",
        content_hash="h",
        estimated_tokens=900,
        reason="over budget",
        path="/w/m.py",
        model="claude-haiku-4-5",
    )
    ledger.defer(
        drain="docstrings",
        workspace="/v",
        scope_key="g",
        content_hash="i",
        estimated_tokens=10,
        reason="closed",
    )
    [task] = ledger.deferred("/w")
    assert task == DeferredRow(
        id=1,
        drain="docstrings",
        workspace="/w",
        scope_key="f",
        content_hash="h",
        estimated_tokens=900,
        reason="over budget",
        created_at=DAY,
        path="/w/m.py",
        model="claude-haiku-4-5",
        tier=2,
    )
    # The columns in the schema's order (``drain-ls queue --json`` prints them so).
    assert list(dataclasses.asdict(task)) == list(raw_rows(ledger.path, "deferred")[0])
    assert [t.workspace for t in ledger.deferred()] == ["/w", "/v"]
    assert ledger.deferred("/v")[0].path == "" and ledger.deferred("/v")[0].model == ""

    ledger.add_batch("b1", "/w", [])
    clock.now += 1
    ledger.add_batch("b2", "/v", [])
    assert ledger.open_batches() == [
        BatchRow("b1", "/w", BatchStatus.IN_PROGRESS, 0, DAY, None),
        BatchRow("b2", "/v", BatchStatus.IN_PROGRESS, 0, DAY + 1, None),
    ]
    assert [b.id for b in ledger.open_batches("/v")] == ["b2"]
    ledger.end_batch("b1")
    ledger.abandon_batch("b2")
    assert ledger.open_batches() == []
    assert [r["status"] for r in raw_rows(ledger.path, "batches")] == ["ended", "lost"]

    ledger.add_entry(workspace="/w", drain="review", path="/w/a.py", scope_key="<module>",
                     text="Looks fine.", model="m")  # fmt: skip
    clock.now += 1
    ledger.add_entry(workspace="/v", drain="todo", path="/v/b.py", scope_key="f",
                     text="Two TODOs.", model="m")  # fmt: skip
    assert ledger.entries() == [
        ReportEntry("/v", "todo", "/v/b.py", "f", "Two TODOs.", "m", DAY + 2),
        ReportEntry("/w", "review", "/w/a.py", "<module>", "Looks fine.", "m", DAY + 1),
    ]
    assert [e.drain for e in ledger.entries("/w")] == ["review"]
    assert len(ledger.entries(limit=1)) == 1


def test_the_reports_sums_are_typed_and_bounded(ledger: Ledger, tmp_path: Path) -> None:
    clock = ledger.clock
    assert isinstance(clock, Clock)
    clock.now += 86_400  # the next day
    later = reserve(ledger, drain="summaries", scope_key="z", key="kz")
    ledger.settle(later.run_id, Usage(100, 20), "cancelled", HAIKU, wasted_tokens=120)
    first, second = ledger.day_totals(date(2026, 11, 18))
    assert isinstance(first, DayTotals)
    assert (first.day, second.day) == ("2026-11-18", "2026-11-19")
    # The open reservation is left out; the batched one is in (with no usage yet).
    assert (first.input_tokens, first.output_tokens, first.cache_read_tokens) == (40, 10, 3)
    assert (first.completed, first.failed, first.cache_hits, first.cancelled) == (1, 1, 1, 0)
    assert first.cost_usd == pytest.approx(90.3e-6) and isinstance(first.cost_usd, float)
    assert (second.cancelled, second.wasted_tokens, second.input_tokens) == (1, 120, 100)
    assert [d.day for d in ledger.day_totals(date(2026, 11, 19))] == ["2026-11-19"]
    assert ledger.day_totals(date(2026, 11, 20)) == []

    costs = ledger.drain_costs(date(2026, 11, 18))
    assert [type(c) for c in costs] == [DrainCost, DrainCost]
    assert [c.drain for c in costs] == ["summaries", "docstrings"]  # dearest first
    assert costs[0].runs == 3  # failed, batched, cancelled (cache hits left out)
    assert costs[1].runs == 2 and costs[1].cost_usd == pytest.approx(90.3e-6)
    assert len(ledger.drain_costs(date(2026, 11, 18), limit=1)) == 1
    assert [c.runs for c in ledger.drain_costs(date(2026, 11, 19))] == [1]

    outsider = sqlite3.connect(tmp_path / "ledger.sqlite3")
    outsider.execute("UPDATE runs SET cost_usd = 1e999, input_tokens = 'lots' WHERE id = 1")
    outsider.commit()
    outsider.close()
    first = ledger.day_totals(date(2026, 11, 18))[0]
    assert first.cost_usd == 0.0 and first.input_tokens == 0  # not a number: counted as 0
