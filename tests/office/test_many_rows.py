"""10,000 rows through the Office backend: the write-back the companion sends, applied by the add-in's JavaScript
to the fake Excel; measured in instructions, syncs and bytes per sync (Excel on the web's limit is 5 MB)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from qaas_excel.outcomes import Outcome
from qaas_excel.resources import CHARGEPOINT
from qaas_excel.results import Result
from qaas_excel.workbook import columns as C
from qaas_excel.workbook.json_book import JsonBook
from qaas_excel.workbook.writeback import outcomes_to_writeback
from tests.office.model import BookModel

ROOT = Path(__file__).resolve().parents[2]
N = 10_000


def _pushed(book: JsonBook) -> tuple[object, object]:
    table = book.read(CHARGEPOINT)
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    outcomes = [Outcome(int(row), Result.CREATED, "Created.",
                        {"id": 1000 + i, "status": "created", "last_updated": when}, f"fp{i:05d}")
                for i, row in enumerate(table.data.index)]
    return table, outcomes_to_writeback(CHARGEPOINT, outcomes, now=when)


def test_a_10000_row_push_write_back_is_a_handful_of_instructions_and_three_syncs(tmp_path):
    model = BookModel("many.xlsx")
    cells = model.add_sheet("ChargePoints")
    headers = [c.header for c in C.columns_for(CHARGEPOINT)]
    for j, header in enumerate(headers, start=1):
        cells[(1, j)] = header
    for i in range(N):
        line = [f"K-{i:05d}", 1, f"DE*SWE*E{i:07d}*1", "Teststraße 1", "01067", "Dresden", 44348, 22, 45292, 45657,
                1000 + i]
        for j, value in enumerate(line, start=1):
            cells[(i + 2, j)] = value
    book = JsonBook.from_payload(model.payload())
    table, changes = _pushed(book)
    book.write_back(table, changes)
    assert book.operations <= 3  # one block of system values, one fill for the row colour
    values = [op for op in book.instructions if op["op"] == "values"]
    assert len(values) == 1 and len(values[0]["values"]) == N
    first_row = values[0]["row"]
    id_col = table.columns["id"]

    rows = [[None] * len(headers) for _ in range(N + 1)]
    for (r, c), v in model.sheets["ChargePoints"].items():
        rows[r - 1][c - 1] = v
    spec = {"book": {"name": "many.xlsx", "sheets": [{"name": "ChargePoints", "rows": rows}]},
            "instructions": book.instructions,
            "probe": [["ChargePoints", first_row, id_col], ["ChargePoints", first_row + N - 1, id_col],
                      ["ChargePoints", first_row + N - 1, table.columns["result"]]]}
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    node = shutil.which("node")
    assert node
    done = subprocess.run([node, "tests/office/js/apply-instructions.js", str(spec_file)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout)
    print(f"\n10,000-row write-back: {book.operations} instructions, {measured['syncs']} syncs, "
          f"largest sync {measured['maxSyncBytes'] / 1e6:.2f} MB, {measured['cellsWritten']:,} cells, "
          f"{measured['ms']} ms in the fake")
    assert measured["syncs"] == measured["statsSyncs"] <= 3
    assert measured["maxSyncBytes"] < 5 * 1024 * 1024
    assert measured["writes"] == book.operations
    assert measured["cells"] == {f"ChargePoints!{first_row},{id_col}": 1000,
                                 f"ChargePoints!{first_row + N - 1},{id_col}": 1000 + N - 1,
                                 f"ChargePoints!{first_row + N - 1},{table.columns['result']}": "created"}
    assert set(measured["fills"].values()) == {"#C6EFCE"}
