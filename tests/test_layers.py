"""The floors of the code: no module imports one above it (front ends > pipeline > planning > workbook), and no
two modules import each other, not even from inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qaas_excel"
BACKENDS = tuple(f"qaas_excel.workbook.{m}" for m in ("openpyxl_book", "package_book", "xlwings_book", "json_book"))
# module (or folder) -> what it must never import
FORBIDDEN = {
    "workbook": ("qaas_excel.sync", "qaas_excel.pipeline", "qaas_excel.api", "qaas_excel.cli", "qaas_excel.excel",
                 "qaas_excel.office"),
    "office": ("qaas_excel.cli",),  # a front end beside the CLI: both call the library, never each other
    "sync.py": ("qaas_excel.workbook", "qaas_excel.pipeline", "qaas_excel.cli", "qaas_excel.excel"),
    "outcomes.py": ("qaas_excel.sync", "qaas_excel.workbook", "qaas_excel.pipeline", "qaas_excel.api"),
    "pipeline.py": ("qaas_excel.cli", "qaas_excel.excel"),
    "reconcile.py": ("qaas_excel.cli", "qaas_excel.excel"),
    "validation.py": ("qaas_excel.workbook", "qaas_excel.sync", "qaas_excel.pipeline", "qaas_excel.cli"),
    # the workbook backends stand beside each other on what they share (files, table, xlsx_*), never on each other
    "workbook/files.py": BACKENDS + ("qaas_excel.workbook.report_parts",),
    "workbook/openpyxl_book.py": tuple(b for b in BACKENDS if not b.endswith(".openpyxl_book")) + (
        "qaas_excel.workbook.report_parts",),
    "workbook/package_book.py": tuple(b for b in BACKENDS if not b.endswith(".package_book")),
    "workbook/report_parts.py": BACKENDS,
    "workbook/xlwings_book.py": tuple(b for b in BACKENDS if not b.endswith(".xlwings_book")),
    "workbook/json_book.py": tuple(b for b in BACKENDS if not b.endswith(".json_book")),
    # config reads contracts; what both need (ConfigError, owner-only files) is in config_files, below both
    "contract.py": ("qaas_excel.config",),
    "config_files.py": ("qaas_excel.config", "qaas_excel.contract"),
}


def imports(path: Path) -> set[str]:
    """Every module named by an import anywhere in the file (in functions and TYPE_CHECKING blocks too);
    ``from package import name`` names ``package.name`` as well, which may be a module."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


@pytest.mark.parametrize("where", sorted(FORBIDDEN))
def test_no_import_runs_up_a_floor(where: str) -> None:
    target = PACKAGE / where
    files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    assert files
    wrong = {f"{f.relative_to(PACKAGE)} imports {m}" for f in files for m in imports(f)
             if any(m == bad or m.startswith(bad + ".") for bad in FORBIDDEN[where])}
    assert wrong == set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        order[v] = low[v] = len(order)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in order:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], order[w])
        if low[v] == order[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in order:
            visit(v)
    return found


def test_no_two_modules_import_each_other() -> None:
    """A circle (even through an import inside a function) means a helper lives in the wrong module."""
    modules = {module_name(f): f for f in PACKAGE.rglob("*.py")}
    graph = {m: {i for i in imports(f) if i in modules and i != m} for m, f in modules.items()}
    assert circles(graph) == []
