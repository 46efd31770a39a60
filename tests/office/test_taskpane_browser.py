"""The task pane in real headless Chromium (Debian's package), loaded from the companion over real TLS, with a
fake Office/Excel in place of office.js: sign in through the sandbox's device login page, Validate, Push, see
the result. The screenshot is kept in test-artifacts/office-taskpane.png."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from qaas_excel.office import certs

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def workbook_rows(path: Path) -> dict:
    """The workbook as the fake Excel holds it: each sheet's rows from A1 (dates as {"$date": ISO})."""
    wb = openpyxl.load_workbook(path, data_only=True)
    sheets = []
    for ws in wb.worksheets:
        rows = []
        for row in ws.iter_rows(values_only=True):
            rows.append([{"$date": datetime(v.year, v.month, v.day).isoformat() + "Z"} if isinstance(v, date) else v
                         for v in row])
        sheets.append({"name": ws.title, "rows": rows})
    return {"name": path.name, "url": str(path), "sheets": sheets, "active": "ChargePoints"}


@pytest.mark.parametrize("sandbox", [{"auto_approve": False}], indirect=True)
def test_sign_in_validate_and_push_from_the_task_pane_in_chromium(sandbox, qaas_home, demo_book, tmp_path):
    from qaas_excel.excel import session
    from qaas_excel.office.server import CompanionServer

    chromium = shutil.which("chromium")
    assert chromium, "Chromium is needed: ./run test installs Debian's package 'chromium' (as root)"
    node = shutil.which("node")
    assert node and (ROOT / "node_modules" / "playwright-core").exists(), "run ./run setup (npm ci) first"
    session.save_settings(env="sandbox")
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "office-taskpane.png"
    screenshot.unlink(missing_ok=True)
    book_json = tmp_path / "workbook.json"
    book_json.write_text(json.dumps(workbook_rows(demo_book)), encoding="utf-8")
    sandbox_cert = certs.Certificates(sandbox.ca_file, qaas_home / "sandbox-tls" / "sandbox-cert.pem",
                                      qaas_home / "sandbox-tls" / "sandbox-key.pem")
    with CompanionServer(qaas_home, port=0) as server:
        env = {**os.environ, "COMPANION_ORIGIN": server.origin, "FAKE_EXCEL_JS": str(ROOT / "tests/office/js/"
                                                                                      "fake-excel.js"),
               "WORKBOOK_JSON": str(book_json), "SCREENSHOT": str(screenshot), "CHROMIUM": chromium,
               "SPKI_LIST": f"{server.certificates.spki_sha256()},{sandbox_cert.spki_sha256()}"}
        done = subprocess.run([node, "tests/office/browser/taskpane.browser.js"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    steps = {s["step"]: s for s in json.loads(done.stdout.strip().splitlines()[-1])}
    assert steps["loaded"]["env"] == "sandbox"
    assert steps["code shown"]["code"] and steps["code shown"]["copyVisible"]
    assert steps["code shown"]["link"].startswith(sandbox.base_url)
    assert "demo@qaas-sandbox.test" in steps["signed in"]["who"]
    assert steps["validated"]["text"].startswith("Validate finished.")
    assert steps["pushed"]["text"].startswith("Push finished.")
    records = sandbox.admin.records("chargepoint")
    assert records and sorted(steps["pushed"]["ids"]) == sorted(r["id"] for r in records)
    assert steps["pushed"]["saved"] == 1
    assert steps["problems"]["problems"] == []
    assert screenshot.read_bytes().startswith(b"\x89PNG")
