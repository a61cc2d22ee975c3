"""Shared harness: the lsp_latency edit sessions, replayed in-process."""

from __future__ import annotations

import random
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lsp_latency import generated_module, typing_session

from drain_ls.lsp.documents import Document
from drain_ls.lsp.positions import Position


def texts():
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    return {"typing.py": (stdlib / "typing.py").read_text(), "10k": generated_module(10_000)}


def byte_edits(text: str, edits: int = 300, seed: int = 7):
    """(start, end, new_bytes) per edit, in byte offsets of the then-current source."""
    session = typing_session(text, edits, random.Random(seed))
    doc = Document("file:///x.py", text.encode())
    out = []
    for row, col, new in session:
        start = doc.offset_at(Position(row, col))
        end = doc.offset_at(Position(row, col + (0 if new else 1)))
        out.append((start, end, new.encode()))
        # keep positions valid: apply to the source/line index only
        src = doc.source
        doc.source = src[:start] + new.encode() + src[end:]
        doc._splice_lines(doc.source, start, end, start + len(new))
    return out


def pct(values):
    o = sorted(values)

    def at(p):
        return o[min(len(o) - 1, round(p * (len(o) - 1)))]

    return at(0.5), at(0.95), at(0.99), o[-1]
