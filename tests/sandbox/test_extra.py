"""The sandbox is the optional extra ``qaas-excel[sandbox]``: without it the tool works and says how to get it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# the extra's import names; None in sys.modules makes `import NAME` raise ImportError, as if not installed
BLOCK = ("fastapi", "starlette", "uvicorn", "multipart", "python_multipart", "trustme")
PRELUDE = f"import sys\nfor name in {BLOCK!r}:\n    sys.modules[name] = None\n"


def run_without_the_extra(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QAAS_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-c", PRELUDE + code], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)


# the web stack's modules: the sandbox's, and the Office add-in companion's (its own extra, qaas-excel[office])
EXTRA_MODULES = ("qaas_excel.sandbox.", "qaas_excel.office.app", "qaas_excel.office.server")


def test_every_module_outside_the_sandbox_imports_without_the_extra(tmp_path: Path) -> None:
    code = f"""EXTRA_MODULES = {EXTRA_MODULES!r}
import importlib, pkgutil, qaas_excel
names = [m.name for m in pkgutil.walk_packages(qaas_excel.__path__, "qaas_excel.")
         if not m.name.startswith(EXTRA_MODULES) and not m.name.endswith("__main__")]
for name in names:
    importlib.import_module(name)
import qaas_excel.cli
assert "fastapi" not in [n for n, m in sys.modules.items() if m is not None]
print(len(names))
"""
    result = run_without_the_extra(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) > 30  # the walk found the whole package, cli and excel included


def test_the_block_really_hides_the_extra(tmp_path: Path) -> None:
    result = run_without_the_extra("import qaas_excel.sandbox.server", tmp_path)
    assert result.returncode == 1 and "ModuleNotFoundError: import of uvicorn halted" in result.stderr


@pytest.mark.parametrize("args", [["sandbox", "serve", "--port", "0"], ["sandbox", "stats"], ["demo"]])
def test_sandbox_commands_without_the_extra_say_how_to_install_it(args: list[str], tmp_path: Path) -> None:
    result = run_without_the_extra(f"sys.argv = ['qaas-excel', *{args!r}]\nfrom qaas_excel.cli import main\nmain()",
                                   tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        'The sandbox is not installed (missing: fastapi, uvicorn, python_multipart, trustme); install it with: '
        'pip install "qaas-excel[sandbox]"']
    assert not (tmp_path / "qaas-demo.xlsx").exists()


def test_other_commands_run_without_the_extra(tmp_path: Path) -> None:
    code = "sys.argv = ['qaas-excel', 'templates', '--out', '.']\nfrom qaas_excel.cli import main\nmain()"
    result = run_without_the_extra(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(tmp_path.glob("*.xlsx"))


def test_the_sandbox_group_still_shows_its_help_without_the_extra(tmp_path: Path) -> None:
    code = "sys.argv = ['qaas-excel', 'sandbox', '--help']\nfrom qaas_excel.cli import main\nmain()"
    result = run_without_the_extra(code, tmp_path)
    assert result.returncode == 0 and "serve" in result.stdout


def test_with_the_extra_nothing_is_missing() -> None:
    from qaas_excel.sandbox import missing_modules

    assert missing_modules() == []
