"""Every program that runs our code starts by trusting the OS certificate store; the library never does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from qaas_excel.excel import ribbon

PROJECT = Path(__file__).resolve().parents[2]
CHECK = "import ssl; print(ssl.SSLContext.__module__.split('.')[0])"


def python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("entry", "why"), [
    (ribbon.START + " import qaas_excel.excel.macros as m;", "what each ribbon button's RunPython runs first"),
    ("import qaas_excel.excel.functions_entry;", "what xlwings' function server imports"),
])
def test_entry_points_inject_truststore(entry: str, why: str) -> None:
    assert python(entry + " " + CHECK) == "truststore", why  # (the qaas-excel command: tests/network/test_proxy.py)


def test_importing_the_library_leaves_ssl_alone() -> None:
    library = "import qaas_excel.api.client, qaas_excel.pipeline, qaas_excel.excel.udfs, qaas_excel.excel.macros, " \
              "qaas_excel.cli;"
    assert python(library + " " + CHECK) == "ssl"
