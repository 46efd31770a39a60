"""The add-in's JavaScript, checked and tested as part of the suite: ESLint, TypeScript over the JSDoc types
(``// @ts-check`` with ``@types/office-js``), and Node's test runner against the fake Excel in tests/office/js."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _npm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    npx = shutil.which("npx")
    assert npx, "Node.js and npm are needed (./run setup installs the tools with npm ci)"
    assert (ROOT / "node_modules" / ".bin" / "eslint").exists(), "run ./run setup first: npm ci installs the tools"
    return subprocess.run([npx, "--no-install", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          check=False)


def test_the_add_ins_javascript_is_lint_clean():
    done = _npm("eslint", "--max-warnings=0", "qaas_excel/office/static", "tests/office/js", "tests/office/browser",
                "eslint.config.js")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_add_ins_javascript_type_checks_against_office_js():
    done = _npm("tsc", "-p", "jsconfig.json")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_javascript_module_is_type_checked():
    for path in (ROOT / "qaas_excel" / "office" / "static" / "app").glob("*.js"):
        assert path.read_text(encoding="utf-8").startswith("// @ts-check"), path.name


def test_the_add_ins_javascript_unit_tests_pass():
    node = shutil.which("node")
    assert node
    done = subprocess.run([node, "--test", "tests/office/js/"], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass " in done.stdout
