"""The results cache of ``drain-ls check``: hits, misses, invalidation, corruption, forgery,
concurrent runs, and output that is the same byte for byte with and without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drain_ls import check_cache, cli
from drain_ls.check_cache import DEFAULT_DIRECTORY, ResultsCache

MODULE = '"""Module."""\nimport os\nimport sys\n\n\ndef run():\n    return sys.argv\n'
FILES = {
    "pyproject.toml": "[tool.drain-ls]\n",
    "pkg/__init__.py": '"""Package."""\n',
    "pkg/mod.py": MODULE,
    "pkg/clean.py": '"""Clean."""\n',
    "pkg/notes.ipynb": json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": ["import json\n", "x = 1\n"],
                },
            ],
            "metadata": {"language_info": {"name": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    ),
    "_private/mod.py": '"""Module."""\n\n\ndef public():\n    pass\n',
    "broken.py": "def f(:\n",
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, text in FILES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.chdir(tmp_path)
    for name in ("DRAIN_LS_NO_CACHE", "DRAIN_LS_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(check_cache, "RACY_NS", 0)  # every file may keep its stat shortcut
    return tmp_path


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def no_analysis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any check that is not served by the cache fail loudly."""

    def refuse(*args: object, **kwargs: object) -> object:
        raise AssertionError("checked again")

    monkeypatch.setattr("drain_ls.analysis.checker.check_source", refuse)
    monkeypatch.setattr("drain_ls.analysis.notebook.check_notebook", refuse)


@pytest.mark.parametrize("form", [[], ["--format", "json"], ["--select", "F401"]])
def test_warm_output_is_cold_output_byte_for_byte(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    form: list[str],
) -> None:
    reference = check(capsys, "--no-cache", *form, ".")
    assert not (project / DEFAULT_DIRECTORY).exists()  # --no-cache writes nothing
    assert check(capsys, *form, ".") == reference
    no_analysis(monkeypatch)
    assert check(capsys, *form, ".") == reference
    if not form:  # notebooks and syntax errors come back as they were
        assert "pkg/notes.ipynb:cell 1:1:8: F401" in reference[1]
        assert "broken.py:1:7: E999" in reference[1]


def test_default_location_is_tagged_and_ignored(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "sub").mkdir()
    (project / "sub" / "a.py").write_text("import os\n")
    os.chdir(project / "sub")  # the project root is where pyproject.toml is, not the cwd
    check(capsys, "a.py")
    cache = project / DEFAULT_DIRECTORY
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    assert (
        (cache / "CACHEDIR.TAG")
        .read_text()
        .startswith("Signature: 8a477f597d28d172789f06886806bc55")
    )
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [check_cache.__version__]
    assert not (project / "sub" / DEFAULT_DIRECTORY).exists()


def test_existing_files_in_the_cache_directory_are_never_overwritten(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = project / "elsewhere"
    target.mkdir()
    (target / ".gitignore").write_text("mine\n")
    check(capsys, "--cache-dir", str(target), ".")
    assert (target / ".gitignore").read_text() == "mine\n"
    assert (target / "CACHEDIR.TAG").exists()


@pytest.mark.parametrize("racy", [0, 10**12], ids=["shortcut", "racily-clean"])
def test_a_changed_file_is_checked_again_even_with_the_same_size_and_times(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, racy: int
) -> None:
    monkeypatch.setattr(check_cache, "RACY_NS", racy)
    path = project / "pkg" / "mod.py"
    check(capsys, ".")
    info = path.stat()
    path.write_text(MODULE.replace("import sys", "import abc"))  # same size
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # same mtime (cp -p, a fast edit)
    out = check(capsys, ".")[1]
    assert "`abc` imported but unused" in out
    assert "`sys`" not in out


def test_content_not_times_is_the_key(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project / "pkg" / "mod.py"
    reference = check(capsys, ".")
    path.write_text(MODULE)  # new times, same bytes (a git checkout, a CI restore)
    no_analysis(monkeypatch)
    assert check(capsys, ".") == reference


def test_settings_are_part_of_the_key(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    everything = check(capsys, ".")[1]
    assert "D103" in everything
    only = check(capsys, "--select", "F401", ".")[1]
    assert "D103" not in only and "F401" in only
    assert check(capsys, "--ignore", "F401", ".")[1].count("F401") == 0
    numpy = check(capsys, "--docstring-style", "numpy", "--format", "json", ".")[1]
    assert (
        numpy
        == check(capsys, "--docstring-style", "numpy", "--no-cache", "--format", "json", ".")[1]
    )
    key = check_cache.settings_key(cli.CheckSettings(select=frozenset({"F401", "D100"})))
    assert key["select"] == ["D100", "F401"]  # every field, sets sorted


def test_every_settings_field_changes_the_cache_file(tmp_path: Path) -> None:
    base = cli.CheckSettings()
    cache = ResultsCache(tmp_path, base, b"k" * 64)
    other = ResultsCache(tmp_path, cli.CheckSettings(docstring_style="numpy"), b"k" * 64)
    assert cache.file != other.file
    assert cache.file == ResultsCache(tmp_path, cli.CheckSettings(), b"k" * 64).file


def test_another_version_misses(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    check(capsys, ".")
    monkeypatch.setattr(check_cache, "__version__", "99.0")
    calls = project.parent / f"{project.name}-calls"  # the checks run in a forked worker
    real = cli.check_source

    def counted(*args: object, **kwargs: object) -> object:
        with calls.open("a") as handle:
            handle.write("call\n")
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("drain_ls.analysis.checker.check_source", counted)
    check(capsys, "--jobs", "1", ".")
    assert calls.exists() and calls.read_text().count("call") >= 1
    assert (project / DEFAULT_DIRECTORY / "99.0").is_dir()


def test_a_new_package_marker_is_seen(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert "_private/mod.py:4:5: D103" in check(capsys, ".")[1]
    (project / "_private" / "__init__.py").write_text("")  # now a private package
    assert "_private/mod.py:4:5: D103" not in check(capsys, ".")[1]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),
        lambda data: b"garbage\n" + os.urandom(1000),
    ],
    ids=["empty", "truncated", "flipped", "garbage"],
)
def test_a_damaged_cache_is_a_miss(
    project: Path, capsys: pytest.CaptureFixture[str], damage: object
) -> None:
    reference = check(capsys, "--format", "json", ".")
    (cache_file,) = (project / DEFAULT_DIRECTORY / check_cache.__version__).iterdir()
    cache_file.write_bytes(damage(cache_file.read_bytes()))  # type: ignore[operator]
    assert check(capsys, "--format", "json", ".") == reference
    assert check(capsys, "--format", "json", ".") == reference  # and it was written again


def plant(project: Path, secret: bytes) -> None:
    """Write a cache file that says ``pkg/mod.py`` has no findings, signed with ``secret``."""
    settings = cli._settings(cli.build_parser().parse_args(["check", "."]))[0]
    planted = ResultsCache((project / DEFAULT_DIRECTORY).absolute(), settings, secret)
    path = str(Path.cwd() / "pkg" / "mod.py")
    digest = check_cache.content_digest(Path(path).read_bytes())
    planted.store(path, check_cache.Key(None, digest, 1), check_cache.Cached([], [], 0, 0))
    planted.save()


def test_a_planted_cache_cannot_hide_findings(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cache committed to the repository (or written with another user's key) that says a
    file has no findings is ignored."""
    reference = check(capsys, ".")
    assert "pkg/mod.py:2:8: F401" in reference[1]
    plant(project, b"a" * 64)
    assert check(capsys, ".") == reference
    # The control: the same file, signed with this user's key, is believed.
    secret = check_cache._secret()
    assert secret is not None
    plant(project, secret)
    assert "pkg/mod.py" not in check(capsys, ".")[1]


def test_no_cache_and_the_environment(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAIN_LS_NO_CACHE", "1")
    check(capsys, ".")
    assert not (project / DEFAULT_DIRECTORY).exists()
    monkeypatch.delenv("DRAIN_LS_NO_CACHE")
    monkeypatch.setenv("DRAIN_LS_CACHE_DIR", str(project / "env-cache"))
    check(capsys, ".")
    assert (project / "env-cache" / "CACHEDIR.TAG").exists()
    assert not (project / DEFAULT_DIRECTORY).exists()


def test_cache_dir_setting_is_relative_to_the_project_root(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pyproject.toml").write_text('[tool.drain-ls]\ncache-dir = "build/lint-cache"\n')
    os.chdir(project / "pkg")
    check(capsys, ".")
    assert (project / "build" / "lint-cache" / "CACHEDIR.TAG").exists()
    check(capsys, "--cache-dir", "here", ".")  # the option wins, relative to the cwd
    assert (project / "pkg" / "here" / "CACHEDIR.TAG").exists()
    (project / "pyproject.toml").write_text("[tool.drain-ls]\ncache-dir = 3\n")
    code, _, err = check(capsys, ".")
    assert code == cli.EXIT_USAGE and "cache-dir must be a string" in err


def test_fix_is_never_served_from_the_cache_and_its_writes_are_not_cached(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "pkg" / "mod.py"
    check(capsys, ".")  # cached: F401 for os, fixable
    out = check(capsys, "--fix", "pkg/mod.py")[1]
    assert "fixed" in out.lower()
    assert b"import os" not in path.read_bytes()
    after = check(capsys, "--format", "json", "pkg/mod.py")
    assert after == check(capsys, "--no-cache", "--format", "json", "pkg/mod.py")
    assert '"F401"' not in after[1]
    # A file with nothing to fix is served from the cache under --fix, unchanged.
    clean = check(capsys, "--fix", "pkg/clean.py")
    assert clean == check(capsys, "--no-cache", "--fix", "pkg/clean.py")


def test_unreadable_files_are_reported_every_time(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "bad.py").write_bytes(b"x = '\xff'\n")
    for _ in range(2):
        code, _, err = check(capsys, "bad.py")
        assert code == cli.EXIT_FINDINGS and "not valid UTF-8" in err


def test_concurrent_runs(project: Path) -> None:
    """Runs that write the same cache at the same time each print what a run without the
    cache prints, and leave a cache that later runs read correctly."""
    for i in range(40):
        (project / "many" / f"m{i}.py").parent.mkdir(exist_ok=True)
        (project / "many" / f"m{i}.py").write_text(f"import os{i % 3}\nx{i} = 1\n")
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("DRAIN_LS_NO_CACHE", None)
    command = [sys.executable, "-m", "drain_ls", "check", "--format", "json"]

    def reference(*paths: str) -> str:
        done = subprocess.run(
            [*command, "--no-cache", *paths], cwd=project, capture_output=True, text=True, env=env
        )
        return done.stdout

    sets = [["many", "pkg"], ["many"], ["pkg", "many/m1.py"], ["."]]
    expected = [reference(*paths) for paths in sets]
    for _ in range(3):
        runs = [
            subprocess.Popen(
                [*command, "--jobs", "2", *paths],
                cwd=project,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for paths in sets
        ]
        outputs = [run.communicate(timeout=120)[0] for run in runs]
        assert outputs == expected
    leftovers = [p.name for p in (project / DEFAULT_DIRECTORY).rglob("*.tmp")]
    assert leftovers == []
    warm = [
        subprocess.run([*command, *paths], cwd=project, capture_output=True, text=True, env=env)
        for paths in sets
    ]
    assert [run.stdout for run in warm] == expected


TRICKY = [
    b"import os  # noqa: D100\n",
    '"""Module."""\nimport os, sys as s\u00e9\nfrom x import (a,\n  b)\n\u00e9 = 1\n'.encode(),
    b"\xef\xbb\xbfimport os\n",
    b'"""Module."""\nimport os\r\nimport sys\r\n\r\ndef f():\r\n    return "\\\\ \\" \\u1234"\n',
    "class K:\n    def m(self):\n        '''\u2603'''\n    def __init__(self): pass\n".encode(),
    b"def f(:\n",
    b'"""M."""\nimport re  # noqa: D100\nimport abc\n\n\ndef f(): pass\n',
]


@pytest.mark.parametrize("source", TRICKY)
def test_json_lines_are_written_as_json_dumps_writes_them(source: bytes) -> None:
    path = '/tmp/d\u00e9j\u00e0 "vu"/mod.py'
    findings = cli.check_source(source, path, cli.CheckSettings())
    assert findings
    index = cli.LineIndex(source)
    result = cli._result(path, findings, index)
    rows = [cli.finding_json(f, path, index) for f in findings]
    assert result.lines == [cli.encode_row(row) for row in rows]
    assert result.rows == [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]
    assert result.fixable == sum(bool(row["_fixable"]) for row in rows)


@pytest.mark.parametrize("where", ["link", "absolute", "parent", "root"])
def test_a_project_cannot_send_the_cache_outside_itself(
    project: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    """A repository's ``.drain_ls_cache`` link or ``cache-dir`` pointing elsewhere (a home
    directory, where a ``.gitignore`` of ``*`` would hide a dotfiles repository) is refused."""
    outside = tmp_path_factory.mktemp("home")
    if where == "link":
        (project / DEFAULT_DIRECTORY).symlink_to(outside, target_is_directory=True)
    else:
        value = {"absolute": str(outside), "parent": "../x", "root": "."}[where]
        (project / "pyproject.toml").write_text(
            f"[tool.drain-ls]\ncache-dir = {json.dumps(value)}\n"
        )
    reference = check(capsys, "--no-cache", ".")
    code, out, err = check(capsys, ".")
    assert (code, out) == reference[:2]
    assert "the results cache is off" in err
    assert list(outside.iterdir()) == []
    assert not (project / ".gitignore").exists()
    # The user's own choice is followed, wherever it points.
    check(capsys, "--cache-dir", str(outside), ".")
    assert (outside / "CACHEDIR.TAG").exists()


def test_a_warm_run_loads_no_check_and_no_parser(project: Path) -> None:
    """A run whose every file is a cache hit imports neither the checks nor tree-sitter
    (about 60 ms of a 0.2 s warm run on the standard library), nor the dataclasses of
    findings (``drain_ls.analysis.model``: the codes are in ``drain_ls.analysis.rules``);
    a cold one does. Neither imports the model catalogue's code (``drain_ls.models``,
    ``drain_ls.budget``: 13 ms), which no check uses."""
    probe = (
        "import sys\n"
        "from drain_ls.cli import main\n"
        "try:\n"
        "    main(['check', '--jobs', '1', '.'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "names = ('drain_ls.analysis.checker', 'tree_sitter', 'drain_ls.analysis.model',\n"
        "         'drain_ls.models', 'drain_ls.budget')\n"
        "loaded = [m for m in names if m in sys.modules]\n"
        "print('LOADED', ','.join(loaded), file=sys.stderr)\n"
    )

    def loaded() -> str:
        done = subprocess.run(
            [sys.executable, "-c", probe], cwd=project, capture_output=True, text=True, check=True
        )
        return done.stderr.rsplit("LOADED", 1)[1].strip()

    # cold: the cache is filled
    assert loaded() == "drain_ls.analysis.checker,tree_sitter,drain_ls.analysis.model"
    assert loaded() == ""  # warm
