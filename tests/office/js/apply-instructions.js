// Applies a write-back made by the companion (json_book.py) to the fake Excel and prints what it cost.
// Used by tests/office/test_many_rows.py: argv[2] is a JSON file {book: {name, sheets: [{name, rows}]},
// instructions: [...]}; prints {syncs, maxSyncBytes, writes, cellsWritten, cells: {"Sheet!r,c": value}}.
import { readFileSync } from "node:fs";

import "./fake-excel.js";
import { applyInstructions } from "../../../qaas_excel/office/static/app/excel-io.js";

const { Book, FakeExcel } = globalThis.QaasFake;
const input = JSON.parse(readFileSync(process.argv[2], "utf-8"));
const book = new Book(input.book.name);
for (const sheet of input.book.sheets) Book.fromRows(book, sheet.name, sheet.rows);
const fake = new FakeExcel(book);
const started = performance.now();
const stats = await fake.run((ctx) => applyInstructions(ctx, input.instructions));
const elapsed = performance.now() - started;
const cells = {};
for (const probe of input.probe ?? []) {
  const [sheet, r, c] = probe;
  cells[`${sheet}!${r},${c}`] = book.sheet(sheet).get(r, c);
}
const fills = {};
for (const [sheet, r, c] of input.probe ?? []) fills[`${sheet}!${r},${c}`] = book.sheet(sheet).fills.get(`${r},${c}`) ?? null;
console.log(JSON.stringify({ syncs: fake.syncs, statsSyncs: stats.syncs, maxSyncBytes: Math.max(...fake.syncBytes),
  writes: fake.writes.filter((w) => w.op !== "save" && w.op !== "numberFormat").length, cellsWritten: fake.cellsWritten, cells, fills,
  ms: Math.round(elapsed) }));
