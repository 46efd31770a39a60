// The add-in's Excel layer against the fake Excel: what it reads and writes, and how many syncs it costs.
import assert from "node:assert/strict";
import { test } from "node:test";

import "./fake-excel.js";
import {
  applyInstructions, columnLetters, isDateFormat, readBook, selectedRows, sentCell, serialToIso,
} from "../../../qaas_excel/office/static/app/excel-io.js";

const { Book, FakeExcel } = globalThis.QaasFake;

const HEADER = ["Your reference", "Operator *", "EVSE ID *", "Street *", "ZIP code *", "Town *",
  "Commissioning date *", "Max. power (kW) *", "Period start *", "Period end *", "Amount (kWh) *", "QaaS ID",
  "Status", "Result"];

function bigBook(rows) {
  const book = new Book("many.xlsx");
  const lines = [HEADER];
  for (let i = 0; i < rows; i += 1) {
    lines.push([`K-${i}`, "SW-DD", `DE*SWE*E${String(i).padStart(7, "0")}*1`, "Teststraße 1", "01067", "Dresden",
      new Date(Date.UTC(2021, 5, 1)), 22, new Date(Date.UTC(2024, 0, 1)), new Date(Date.UTC(2024, 11, 31)),
      1000 + i, null, null, null]);
  }
  Book.fromRows(book, "ChargePoints", lines);
  Book.fromRows(book, "Notes", [["not ours"]]);
  return book;
}

test("Excel's number formats that show dates and times are told from the others", () => {
  for (const f of ["dd.mm.yyyy", "yyyy-mm-dd hh:mm:ss", "[$-407]d. mmmm yyyy", "h:mm AM/PM", "m/d/yy"]) {
    assert.equal(isDateFormat(f), true, f);
  }
  for (const f of ["General", "@", "0.000", "#,##0.00 \"kWh\"", "0.00E+00", "[Red]0.0", "\\d0", null]) {
    assert.equal(isDateFormat(f), false, String(f));
  }
});

test("a date cell is sent as ISO text, an empty one as null, the rest as it is", () => {
  assert.deepEqual(sentCell(45658, "dd.mm.yyyy"), { date: "2025-01-01T00:00:00" });
  assert.equal(serialToIso(45658.5), "2025-01-01T12:00:00");
  assert.equal(sentCell("", "General"), null);
  assert.equal(sentCell(22, "0.0"), 22);
  assert.equal(sentCell("=1+1", "@"), "=1+1");
  assert.equal(columnLetters(1), "A");
  assert.equal(columnLetters(28), "AB");
  assert.equal(columnLetters(16384), "XFD");
});

test("reading 10,000 rows takes 2 syncs plus one per band of 100,000 cells, each under 5 MB", async () => {
  const fake = new FakeExcel(bigBook(10000));
  const { book, syncs } = await fake.run((ctx) => readBook(ctx, { sheets: ["ChargePoints", "_qaas"], url: "C:\\x.xlsx" }));
  assert.equal(syncs, 4); // sheets; used ranges and notes; 140,014 cells in two bands
  assert.equal(fake.syncs, 4);
  // each band is loaded by its own sync: neither response carries the whole sheet
  const bands = fake.syncBytes.slice(2);
  assert.ok(bands.every((b) => b > 500000 && b < 2.5 * 1024 * 1024), `band syncs: ${bands}`);
  assert.deepEqual(book.sheets, ["ChargePoints", "Notes"]);
  assert.deepEqual(Object.keys(book.grids), ["ChargePoints"]); // only what the run needs, and the active sheet
  const grid = book.grids.ChargePoints;
  assert.equal(grid.values.length, 10001);
  assert.deepEqual(grid.values[1].slice(0, 3), ["K-0", "SW-DD", "DE*SWE*E0000000*1"]);
  assert.deepEqual(grid.values[1][6], { date: "2021-06-01T00:00:00" });
  assert.equal(grid.values[10000][10], 10999);
  assert.equal(book.url, "C:\\x.xlsx");
});

test("only our notes are marked ours, by their first line", async () => {
  const book = bigBook(3);
  const sheet = book.sheet("ChargePoints");
  sheet.notes.set("2,3", "qaas-excel:\nEVSE ID: wrong form");
  sheet.notes.set("3,3", "Ask Jana about this one");
  const fake = new FakeExcel(book);
  const { book: sent } = await fake.run((ctx) => readBook(ctx, { sheets: ["ChargePoints"] }));
  const notes = sent.grids.ChargePoints.notes.sort((a, b) => a.row - b.row);
  assert.deepEqual(notes, [{ row: 2, col: 3, ours: true }, { row: 3, col: 3, ours: false }]);
});

test("a sheet with nothing on it is sent as one empty cell", async () => {
  const book = new Book("empty.xlsx");
  book.addSheet("ChargePoints");
  const fake = new FakeExcel(book);
  const { book: sent } = await fake.run((ctx) => readBook(ctx, { sheets: ["ChargePoints"] }));
  assert.deepEqual(sent.grids.ChargePoints, { top: 1, left: 1, values: [[null]], notes: [] });
});

test("the selection's rows are every row of every area", async () => {
  const fake = new FakeExcel(bigBook(20));
  fake.book.selection = [{ row: 3, rows: 2 }, { row: 10, rows: 1 }, { row: 4, rows: 2 }];
  const selection = await fake.run((ctx) => selectedRows(ctx));
  assert.deepEqual(selection, { sheet: "ChargePoints", rows: [3, 4, 5, 10] });
});

function pushInstructions(rows) {
  // The shape json_book.py writes for a push of `rows` rows: one block of system values, one fill per colour.
  const values = [];
  const formats = [];
  for (let i = 0; i < rows; i += 1) {
    values.push([100 + i, "created", 45658.5, "created", "", 45658.5, `fp${i}`]);
    formats.push([null, null, "yyyy-mm-dd hh:mm:ss", null, null, "yyyy-mm-dd hh:mm:ss", null]);
  }
  return [
    { op: "values", sheet: "ChargePoints", row: 2, col: 12, values, formats },
    { op: "fill", sheet: "ChargePoints", color: "#C6EFCE", areas: [`L2:R${rows + 1}`] },
    { op: "fill", sheet: "ChargePoints", color: "#FFC7CE", areas: ["C5", "C9:C10"] },
    { op: "note", sheet: "ChargePoints", cell: "C5", text: "qaas-excel:\nEVSE ID: wrong form" },
  ];
}

test("a 10,000-row write-back is 70,000 cells in one range, written in 3 syncs under 5 MB each", async () => {
  const fake = new FakeExcel(bigBook(10000));
  const stats = await fake.run((ctx) => applyInstructions(ctx, pushInstructions(10000)));
  assert.equal(stats.syncs, 3); // look at the sheets; their protection; every write
  assert.equal(fake.syncs, 3);
  assert.ok(Math.max(...fake.syncBytes) < 5 * 1024 * 1024);
  const values = fake.writes.filter((w) => w.op === "values");
  assert.deepEqual(values.map((w) => w.address), ["L2:R10001"]);
  assert.equal(fake.cellsWritten, 70000);
  const sheet = fake.book.sheet("ChargePoints");
  assert.equal(sheet.get(10001, 12), 10099);
  assert.equal(sheet.get(2, 16), ""); // "" clears the cell
  assert.equal(sheet.formats.get("2,14"), "yyyy-mm-dd hh:mm:ss");
  assert.equal(sheet.fills.get("10001,18"), "#C6EFCE");
  assert.equal(sheet.fills.get("10,3"), "#FFC7CE");
  assert.equal(sheet.notes.get("5,3"), "qaas-excel:\nEVSE ID: wrong form");
});

test("a block larger than the cell budget is written in bands, one sync each", async () => {
  const fake = new FakeExcel(bigBook(10000));
  const stats = await fake.run((ctx) => applyInstructions(ctx, pushInstructions(10000), { cellBudget: 20000 }));
  assert.deepEqual(fake.writes.filter((w) => w.op === "values").map((w) => w.address),
    ["L2:R2858", "L2859:R5715", "L5716:R8572", "L8573:R10001"]);
  assert.equal(stats.syncs, 2 + 4);
});

test("null leaves a cell as it is, and text that looks like a formula stays text", async () => {
  const fake = new FakeExcel(bigBook(2));
  await fake.run((ctx) => applyInstructions(ctx, [
    { op: "values", sheet: "ChargePoints", row: 2, col: 1, values: [[null, "'=HYPERLINK(1)"]] },
  ]));
  const sheet = fake.book.sheet("ChargePoints");
  assert.equal(sheet.get(2, 1), "K-0");
  assert.equal(sheet.get(2, 2), "=HYPERLINK(1)");
});

test("a protected sheet is unprotected for the write and protected again with its own options", async () => {
  const fake = new FakeExcel(bigBook(2));
  const sheet = fake.book.sheet("ChargePoints");
  sheet.protected = true;
  sheet.protectionOptions = { allowFormatCells: false, allowSort: true };
  await fake.run((ctx) => applyInstructions(ctx, pushInstructions(2)));
  assert.equal(sheet.protected, true);
  assert.deepEqual(sheet.protectionOptions, { allowFormatCells: false, allowSort: true });
  assert.equal(sheet.get(3, 12), 101);
  const order = fake.writes.map((w) => w.op);
  assert.ok(order.indexOf("unprotect") < order.indexOf("values") && order.indexOf("values") < order.indexOf("protect"));
});

test("a password-protected sheet fails the write and nothing is half-written into it", async () => {
  const fake = new FakeExcel(bigBook(2));
  const sheet = fake.book.sheet("ChargePoints");
  sheet.protected = true;
  sheet.password = true;
  await assert.rejects(fake.run((ctx) => applyInstructions(ctx, pushInstructions(2))), /password/);
  assert.equal(sheet.get(2, 12), "");
});

test("the Reconciliation sheet is replaced, with its number formats", async () => {
  const fake = new FakeExcel(bigBook(2));
  Book.fromRows(fake.book, "Reconciliation", [["old"]]);
  await fake.run((ctx) => applyInstructions(ctx, [
    { op: "replace_sheet", sheet: "Reconciliation" },
    { op: "values", sheet: "Reconciliation", row: 1, col: 1, values: [["Title", null], ["kWh", 12.5]],
      formats: [[null, null], [null, "#,##0.000"]] },
  ]));
  const sheet = fake.book.sheet("Reconciliation");
  assert.equal(sheet.get(1, 1), "Title");
  assert.equal(sheet.get(2, 2), 12.5);
  assert.equal(sheet.formats.get("2,2"), "#,##0.000");
  assert.equal(fake.book.sheets.filter((s) => s.name === "Reconciliation").length, 1);
});

test("without the notes API the notes are skipped and counted, everything else is written", async () => {
  const fake = new FakeExcel(bigBook(20));
  fake.install(globalThis, { apiVersion: "1.17" });
  try {
    const stats = await fake.run((ctx) => applyInstructions(ctx, pushInstructions(20)));
    assert.equal(stats.notesSkipped, 1);
    assert.equal(fake.book.sheet("ChargePoints").notes.size, 0);
    assert.equal(fake.book.sheet("ChargePoints").fills.get("5,3"), "#FFC7CE");
  } finally {
    delete globalThis.Office;
  }
});
