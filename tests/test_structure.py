"""The layering of the package, checked from its source: imports point down, no cycles, short
functions, no repeated blocks. (The JavaScript has its own checks in js/test/structure.test.js.)
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vitwidgets"
#: what the analysis core must never import (it sits below all of them)
ABOVE_CORE = ("vitwidgets.metrics", "vitwidgets.zoo", "vitwidgets.widgets", "vitwidgets.loading",
              "vitwidgets.engines")
MAX_FUNCTION_LINES = 80
#: functions that are data tables, allowed to be longer
DATA_TABLES = {"vitwidgets.data.shapeworld._build_shapes": "the twelve shape outlines"}
REPEAT_LINES = 6


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(base: str, name: str | None) -> str:
    """The module an import names: ``base.name`` when that is a module, else ``base``."""
    if name and f"{base}.{name}" in MODULES:
        return f"{base}.{name}"
    return base


def imports_of(module: str) -> set[str]:
    """Package modules that ``module`` imports anywhere in its file (inside functions too)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found |= {_target(base, a.name) for a in node.names}
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports_of(m) for m in MODULES}


def test_imports_are_resolved_against_real_modules():
    assert "vitwidgets.core.session" in GRAPH["vitwidgets.widgets.explorer"]
    assert "vitwidgets.core.metrics" in GRAPH["vitwidgets.core.session"]


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("vitwidgets.core")])
def test_core_imports_nothing_above_itself(module):
    upward = sorted(m for m in GRAPH[module] if m.startswith(ABOVE_CORE))
    assert not upward, f"{module} imports {upward}: the core must not import them"


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                return stack[stack.index(n) :] + [n]
            if n not in state and (cycle := visit(n)):
                return cycle
        state[m] = 2
        stack.pop()
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)):
            return cycle
    return None


def test_cycle_finder_finds_a_known_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_among_the_package_modules():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_function_is_longer_than_80_lines():
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES and f"{module}.{node.name}" not in DATA_TABLES:
                    long.append(f"{module}.{node.name}: {n} lines")
    assert not long, long


_SKIP = re.compile(r"^(#|//|\*|/\*|import |from \S+ import |export \{|[\]\[(){};,]+$)")


def code_lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, text)`` of the lines that carry code: whitespace folded; blank lines,
    comments, imports and lone punctuation left out."""
    out, in_import = [], False
    for i, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = " ".join(raw.split())
        if in_import:  # the names of a parenthesised ``from x import (...)``
            in_import = not line.startswith(")")
        elif line.startswith("from ") and line.endswith("import ("):
            in_import = True
        elif line and not _SKIP.match(line):
            out.append((i, line))
    return out


def repeated_blocks(paths: list[Path], size: int = REPEAT_LINES) -> list[str]:
    """Places where the same ``size`` code lines stand twice (within a file or across files)."""
    seen: dict[tuple[str, ...], tuple[Path, int]] = {}
    found = []
    for path in paths:
        lines = code_lines(path)
        for k in range(len(lines) - size + 1):
            window = tuple(text for _, text in lines[k : k + size])
            start = lines[k][0]
            first = seen.setdefault(window, (path, start))
            if first != (path, start) and not (first[0] == path and start - first[1] < size):
                found.append(f"{path.relative_to(ROOT)}:{start} repeats "
                             f"{first[0].relative_to(ROOT)}:{first[1]}")
    return found


def test_repeat_finder_finds_a_copied_block(tmp_path):
    body = "".join(f"x{i} = compute({i})\n" for i in range(6))
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text(body)
    b.write_text("# a copy\n" + body)
    global ROOT
    root, ROOT = ROOT, tmp_path
    try:
        assert repeated_blocks([a, b]) == ["b.py:2 repeats a.py:1"]
    finally:
        ROOT = root


def test_no_block_of_six_lines_is_repeated_in_the_package_or_the_frontend():
    paths = sorted(PACKAGE.rglob("*.py")) + sorted((ROOT / "js" / "src").rglob("*.js"))
    by_file: dict[Path, list[str]] = defaultdict(list)
    for place in repeated_blocks(paths):
        by_file[Path(place.split(":")[0])].append(place)
    assert not by_file, sorted(p for places in by_file.values() for p in places)
