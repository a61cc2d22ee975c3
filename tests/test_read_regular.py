"""``drain_ls.files.read_regular``: a file is read whole, in one read as a rule, and a file
whose size the file system does not tell (0, as ``/proc`` says) is read to its end, within
the limit."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from drain_ls import files
from drain_ls.files import UnreadableFile, read_regular


def test_a_large_file_is_read_whole_in_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than the 1 MiB chunks of earlier versions
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    reads: list[int] = []
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        chunk = real_read(fd, size)
        reads.append(len(chunk))
        return chunk

    monkeypatch.setattr(files.os, "read", counting_read)
    assert read_regular(path, 10 * 1024 * 1024) == data
    assert reads == [len(data), 0]  # the data, then the end of the file


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_file_of_untold_size_is_read_to_its_end() -> None:
    path = Path("/proc/self/cmdline")
    assert os.stat(path).st_size == 0  # the premise: the size is not told
    # This process's own command line: the same bytes for every reader.
    assert read_regular(path, 1 << 20) == path.read_bytes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_file_of_untold_size_past_the_limit_is_refused() -> None:
    path = Path("/proc/self/cmdline")
    assert len(path.read_bytes()) > 3
    with pytest.raises(UnreadableFile, match=r"too large \(over 3 bytes\)"):
        read_regular(path, 3)
