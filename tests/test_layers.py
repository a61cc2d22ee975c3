"""Which drain_ls modules may import which (issue 19, "dependencies run the wrong way").

Every module under ``drain_ls/`` is read with ``ast`` (nothing is imported), and each import
is resolved to the drain_ls module it names, at any depth (imports inside functions too):

- The editor-agnostic layers (``EDITOR_AGNOSTIC``) import neither pygls nor lsprotocol,
  not even inside a function: the LSP lives in the server, its handlers and ``features/``.
- There is no import cycle among drain_ls modules, counting the imports a module runs when
  it is loaded (module level; ``if TYPE_CHECKING:`` blocks excluded, as they never run). An
  import inside a function may break a cycle; those are listed in the failure message.
  The cycles that exist today are in ``KNOWN_CYCLES``, each with its reason, so that only a
  new one fails; a known cycle that is gone must leave the list too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "drain_ls"

# Modules (or packages, ending in ".") that must not import pygls or lsprotocol.
EDITOR_AGNOSTIC = (
    "drain_ls.analysis",
    "drain_ls.backends",
    "drain_ls.engine",
    "drain_ls.ledger",
    "drain_ls.commits",
    "drain_ls.budget",
    "drain_ls.uris",
    "drain_ls.cli",
)
LSP_PACKAGES = ("pygls", "lsprotocol")
# The front ends of the drain engine: it imports none of them, nor do they import each other.
FRONT_ENDS = ("drain_ls.lsp", "drain_ls.cli")
# No module of drain_ls over this many lines, but those listed (each still to be split; the
# list may only shrink: a module that gets under the limit leaves it).
MAX_LINES = 600
TOO_LONG: set[str] = set()

# Cycles of module-level imports that exist today: each one's modules, and why it is there.
KNOWN_CYCLES: dict[frozenset[str], str] = {}


@dataclass(frozen=True, slots=True)
class Import:
    """One import statement's target, where it is and whether it runs at load time."""

    module: str  # the importing module
    target: str  # the module imported (a drain_ls module when it is one)
    line: int
    at_load: bool  # module level, outside ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, at_load: bool) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, at_load
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _walk(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child):
            for statement in child.body:
                yield from _walk(ast.Module(body=[statement], type_ignores=[]), False)
            for statement in child.orelse:
                yield from _walk(ast.Module(body=[statement], type_ignores=[]), at_load)
        else:
            yield from _walk(child, at_load)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[Import]:
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node, at_load in _walk(tree, True):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import submodule`` imports the submodule.
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
            targets = subs if len(subs) == len(node.names) else [base, *subs]
        for target in targets:
            # ``import drain_ls.a.b`` runs drain_ls.a.b: the deepest module that exists.
            while target not in modules and "." in target and target.startswith("drain_ls"):
                target = target.rsplit(".", 1)[0]
            found.append(Import(name, target, node.lineno, at_load))
    return found


def _all_imports() -> list[Import]:
    modules = _modules()
    return [imp for name, path in modules.items() for imp in _imports(name, path, modules)]


def _cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with a cycle in them (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                found.append(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _graph(imports: list[Import], at_load_only: bool) -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for imp in imports:
        if imp.target in modules and imp.target != imp.module and (imp.at_load or not at_load_only):
            edges[imp.module].add(imp.target)
    return edges


def _describe(component: frozenset[str], imports: list[Import]) -> str:
    lines = [f"  cycle among {', '.join(sorted(component))}:"]
    for imp in sorted(imports, key=lambda i: (i.module, i.line)):
        inside = imp.module in component and imp.target in component
        if imp.at_load and inside and imp.target != imp.module:
            lines.append(f"    {imp.module} (line {imp.line}) imports {imp.target}")
    return "\n".join(lines)


def test_the_import_scan_sees_the_package() -> None:
    """The scan itself works: it finds the modules and the imports it should."""
    modules = _modules()
    assert {"drain_ls.lsp.server", "drain_ls.engine.scheduler", "drain_ls.backends.batches"} <= set(
        modules
    )
    imports = _all_imports()
    assert any(i.module == "drain_ls.lsp.server" and i.target == "pygls.uris" for i in imports)
    assert any(
        i.module == "drain_ls.backends.anthropic"
        and i.target == "drain_ls.backends.messages"
        and i.at_load
        for i in imports
    )
    # budget.py imports the model catalogue inside a function: seen, but not at load time.
    assert any(
        i.module == "drain_ls.budget" and i.target == "drain_ls.models" and not i.at_load
        for i in imports
    )


def test_the_cycle_search_finds_cycles() -> None:
    """Tarjan's search on a small graph: two cycles and a self-import, nothing else."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e", "d"}, "f": {"g"}}
    edges |= {"g": {"f"}}
    assert sorted(map(sorted, _cycles(edges))) == [["a", "b", "c"], ["e"], ["f", "g"]]


def test_editor_agnostic_modules_do_not_import_pygls_or_lsprotocol() -> None:
    """analysis/, backends/, the scheduler, drains, ledger, budget and uris stay usable
    without an editor: no pygls or lsprotocol import in them, at any depth."""
    offending = [
        f"  {imp.module} (line {imp.line}) imports {imp.target}"
        for imp in _all_imports()
        if any(_in(imp.module, package) for package in EDITOR_AGNOSTIC)
        if imp.target.split(".")[0] in LSP_PACKAGES
    ]
    assert not offending, (
        "these editor-agnostic modules import the LSP libraries; take what they need from a "
        "neutral module (file URIs: drain_ls/uris.py) or move the code into the server:\n"
        + "\n".join(offending)
    )


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_core_knows_no_front_end_and_the_front_ends_keep_apart() -> None:
    """analysis/, engine/ and the rest import neither front end (``lsp/``, ``cli/``), at
    load time or in a function; ``lsp/`` never imports ``cli/``; ``cli/`` imports ``lsp/``
    only inside the command that starts the language server."""
    offending = []
    for imp in _all_imports():
        source = next((f for f in FRONT_ENDS if _in(imp.module, f)), None)
        target = next((f for f in FRONT_ENDS if _in(imp.target, f)), None)
        if target is None or source == target:
            continue
        starts_server = (
            source == "drain_ls.cli"
            and not imp.at_load
            and imp.target in ("drain_ls.lsp.handlers", "drain_ls.lsp.server")
        )
        if not starts_server and imp.module != "drain_ls.__main__":
            offending.append(f"  {imp.module} (line {imp.line}) imports {imp.target}")
    assert not offending, "\n".join(offending)


def test_no_module_is_over_600_lines_but_those_still_to_be_split() -> None:
    lengths = {
        path.relative_to(PACKAGE.parent).as_posix(): len(path.read_text().splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    long = {path for path, lines in lengths.items() if lines > MAX_LINES}
    assert long <= TOO_LONG, f"over {MAX_LINES} lines: {sorted(long - TOO_LONG)}"
    shorter = TOO_LONG - long
    assert not shorter, f"under {MAX_LINES} lines now, remove from TOO_LONG: {sorted(shorter)}"


def test_no_new_import_cycle_among_drain_ls_modules() -> None:
    """The module-level imports of drain_ls form no cycle beyond ``KNOWN_CYCLES``."""
    imports = _all_imports()
    cycles = _cycles(_graph(imports, at_load_only=True))
    new = [c for c in cycles if c not in KNOWN_CYCLES]
    gone = [c for c in KNOWN_CYCLES if c not in cycles]
    message = []
    if new:
        message.append(
            "new import cycles (modules that import each other when loaded); break them by "
            "moving what both need into a third module:\n"
            + "\n".join(_describe(c, imports) for c in new)
        )
    if gone:
        message.append(
            "these KNOWN_CYCLES are gone (or changed); remove them from the list:\n"
            + "\n".join(f"  {', '.join(sorted(c))}" for c in gone)
        )
    assert not message, "\n".join(message)


def deferred_cycle_breakers() -> list[Import]:
    """The imports inside functions (or under ``TYPE_CHECKING``) that would close a cycle
    if they ran at load time: where a dependency still runs the wrong way."""
    imports = _all_imports()
    edges = _graph(imports, at_load_only=True)
    breakers = []
    for imp in imports:
        if imp.at_load or imp.target not in edges or imp.target == imp.module:
            continue
        # Does the target reach the importer through load-time imports?
        seen, todo = {imp.target}, [imp.target]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        if imp.module in seen:
            breakers.append(imp)
    return breakers


def test_list_the_imports_deferred_to_break_a_cycle() -> None:
    """Not a failure: the imports inside functions that keep a cycle from forming, printed
    (``pytest -s tests/test_layers.py``) as the to-do list of the layering work."""
    for imp in deferred_cycle_breakers():
        print(f"deferred: {imp.module} (line {imp.line}) imports {imp.target}")
