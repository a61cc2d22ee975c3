"""A deterministic, realistic Python module of a given length, for the language server benchmarks.

    python benchmarks/gen_module.py [--lines N | --megabytes M] [--seed S] > module.py

Imports (a couple unused), module constants, documented classes with decorated methods,
functions with multi-line calls, literals, comments and f-strings; about one definition in
forty has no docstring. The same seed gives the same text. The text is exactly ``lines``
lines long and parses (blocks are whole; the remainder is filled with one-line statements).
"""

from __future__ import annotations

import argparse
import ast
import random
import sys

IMPORTS = [
    "import os",
    "import re",
    "import sys",
    "import json",
    "import functools",
    "import itertools",
    "from collections import OrderedDict, defaultdict",
    "from dataclasses import dataclass, field",
    "from typing import Any, Iterable",
    "import textwrap  # unused",
    "import shutil  # unused",
]

WORDS = [
    "alpha", "beta", "gamma", "delta", "count", "total", "index", "value", "name", "record",
    "buffer", "offset", "limit", "result", "items", "entry", "parent", "child", "token", "state",
]  # fmt: skip


def _docstring(rng: random.Random, indent: str, what: str) -> list[str]:
    if rng.random() < 0.025:
        return []
    summary = f'{indent}"""{what.capitalize()} the {rng.choice(WORDS)} of the {rng.choice(WORDS)}.'
    if rng.random() < 0.3:
        return [
            summary,
            "",
            f"{indent}The {rng.choice(WORDS)} is kept when the {rng.choice(WORDS)} is empty;",
            f"{indent}otherwise it is replaced (see ``{rng.choice(WORDS)}``).",
            f'{indent}"""',
        ]
    return [summary + '"""']


def _function(rng: random.Random, name: str, indent: str = "", method: bool = False) -> list[str]:
    a, b = rng.sample(WORDS, 2)
    params = f"self, {a}: int, {b}: str = ''" if method else f"{a}: int, {b}: str = ''"
    body = indent + "    "
    out: list[str] = []
    if method and rng.random() < 0.3:
        out.append(f"{indent}@functools.lru_cache(maxsize={rng.randint(8, 256)})")
    out.append(f"{indent}def {name}({params}) -> int:")
    out += _docstring(rng, body, "compute")
    kind = rng.randrange(5)
    if kind == 0:
        out += [
            f"{body}parts = [",
            f"{body}    {b}.strip(),",
            f"{body}    os.path.join({b!r}, str({a})),",
            f"{body}    json.dumps({{{a!r}: {a}, {b!r}: {b}}}),",
            f"{body}]",
            f"{body}return len(parts) + {a}",
        ]
    elif kind == 1:
        out += [
            f"{body}# Count the matches of the pattern in the text.",
            f"{body}found = re.findall(r'[a-z]+\\d*', {b})",
            f"{body}for position, word in enumerate(found):",
            f"{body}    if len(word) > {a}:",
            f"{body}        return position",
            f"{body}return -1",
        ]
    elif kind == 2:
        out += [
            f"{body}table: defaultdict[str, list[int]] = defaultdict(list)",
            f"{body}for key, group in itertools.groupby(sorted({b})):",
            f"{body}    table[key].append(len(list(group)) * {a})",
            f'{body}message = f"{{{a}}} keys, first {{sorted(table)[:1]}}"',
            f"{body}return len(message) + sys.maxsize % 7",
        ]
    elif kind == 3:
        out += [
            f"{body}ordered = OrderedDict(",
            f"{body}    (str(i), i * {a}) for i in range(len({b}))",
            f"{body})",
            f"{body}return sum(ordered.values())",
        ]
    else:
        out += [
            f"{body}if not {b}:",
            f"{body}    return {a}",
            f"{body}elif {b}.startswith(('{a[:2]}', '{b[:2]}')):",
            f"{body}    return {a} * 2",
            f"{body}return {a} - len({b})",
        ]
    return out


def _class(rng: random.Random, index: int) -> list[str]:
    name = f"{rng.choice(WORDS).capitalize()}{rng.choice(WORDS).capitalize()}{index}"
    out: list[str] = []
    dataclass_ = rng.random() < 0.3
    if dataclass_:
        out.append("@dataclass")
    out.append(f"class {name}:")
    out += _docstring(rng, "    ", "hold")
    if dataclass_:
        out += [
            f"    {rng.choice(WORDS)}: int = 0",
            f"    {rng.choice(WORDS)}s: list[Any] = field(default_factory=list)",
        ]
    out.append("")
    for m in range(rng.randint(1, 4)):
        out += _function(rng, f"{rng.choice(WORDS)}_{m}", "    ", method=True)
        out.append("")
    if rng.random() < 0.3:
        out += [
            "    @property",
            "    def label(self) -> str:",
            f'        """The label of the {rng.choice(WORDS)}."""',
            "        return type(self).__name__",
            "",
        ]
    return out[:-1]


def _block(rng: random.Random, index: int) -> list[str]:
    kind = rng.random()
    if kind < 0.45:
        return _function(rng, f"{rng.choice(WORDS)}_{index}")
    if kind < 0.85:
        return _class(rng, index)
    if kind < 0.95:
        items = ", ".join(f"{w!r}: {rng.randint(0, 99)}" for w in rng.sample(WORDS, 3))
        return [f"{rng.choice(WORDS).upper()}_{index} = {{{items}}}"]
    return [
        f"def each_{index}(entries: Iterable[str]) -> list[str]:",
        f'    """Wrap each entry of {rng.choice(WORDS)}."""',
        "    return [",
        "        text",
        "        for text in entries",
        "        if text",
        "    ]",
    ]


def generate_module(lines: int, seed: int = 17) -> str:
    """``lines`` lines of Python (at least about 20) that parse, the same for the same seed."""
    rng = random.Random(seed)
    out = ['"""A generated module for the language server benchmarks."""', "", *IMPORTS, ""]
    out += ["MAX_ITEMS = 100", "NAMES = ('x', 'y')"]
    index = 0
    while True:
        block = ["", "", *_block(rng, index)]
        if len(out) + len(block) > lines:
            break
        out += block
        index += 1
    filler = 0
    while len(out) < lines:
        out.append(f"FILLER_{filler} = {filler}")
        filler += 1
    return "\n".join(out[:lines]) + "\n"


def generate_megabytes(megabytes: float, seed: int = 17) -> str:
    """A module of about ``megabytes`` MB (10^6 bytes), built like ``generate_module``."""
    sample = generate_module(10_000, seed)
    per_line = len(sample.encode()) / 10_000
    return generate_module(int(megabytes * 1_000_000 / per_line), seed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--lines", type=int, default=10_000)
    size.add_argument("--megabytes", type=float)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--check", action="store_true", help="parse the text before printing")
    args = parser.parse_args()
    if args.megabytes is not None:
        text = generate_megabytes(args.megabytes, args.seed)
    else:
        text = generate_module(args.lines, args.seed)
    if args.check:
        ast.parse(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
