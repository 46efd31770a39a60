"""The add-in's JavaScript tested as part of the suite: Node's test runner against the fake Excel in tests/office/js
(ESLint and TypeScript over the JSDoc types run in ./run lint, which ./run test runs first)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_javascript_module_is_type_checked():
    for path in (ROOT / "qaas_excel" / "office" / "static" / "app").glob("*.js"):
        assert path.read_text(encoding="utf-8").startswith("// @ts-check"), path.name


def test_the_add_ins_javascript_unit_tests_pass():
    node = shutil.which("node")
    assert node
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / "office" / "js").glob("*.test.js"))
    assert len(files) >= 3
    done = subprocess.run([node, "--test", "--test-reporter=tap", *files], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert "# fail 0" in done.stdout and "# pass " in done.stdout
