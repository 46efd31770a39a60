"""The floors of the code: no module imports one above it (front ends > pipeline > planning > workbook)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qaas_excel"
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
}


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
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
