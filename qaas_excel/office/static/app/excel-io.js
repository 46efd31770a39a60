// @ts-check
/**
 * The add-in's only contact with the workbook: read the sheets a run needs, apply the instructions it
 * returns. Whole ranges, never a cell at a time; `context.sync()` a few times per run, not per row:
 * reading costs 2 syncs plus one per band of CELL_BUDGET cells, applying 1 sync to look at the sheets
 * plus one per CELL_BUDGET cells written (Excel on the web refuses requests over 5 MB).
 */

/** Cells per sync: values and number formats of this many cells stay well under 5 MB. */
export const CELL_BUDGET = 100000;

/** The note heading our notes start with (the companion writes it; xlwings_book.py and json_book.py agree). */
export const NOTE_HEADING = "qaas-excel:";

/**
 * @typedef {string | number | boolean | null | {date: string}} SentCell
 * @typedef {{row: number, col: number, ours: boolean}} SentNote
 * @typedef {{top: number, left: number, values: SentCell[][], notes: SentNote[]}} SentGrid
 * @typedef {{name: string, url: string, sheets: string[], grids: Record<string, SentGrid>}} SentBook
 * @typedef {{sheet: string, rows: number[]}} Selection
 * @typedef {{op: "values", sheet: string, row: number, col: number, values: (string|number|boolean|null)[][],
 *            formats?: (string|null)[][]}} ValuesOp
 * @typedef {{op: "fill", sheet: string, color: string, areas: string[]}} FillOp
 * @typedef {{op: "note", sheet: string, cell: string, text: string}} NoteOp
 * @typedef {{op: "delete_note", sheet: string, cell: string}} DeleteNoteOp
 * @typedef {{op: "hide_column", sheet: string, col: number}} HideColumnOp
 * @typedef {{op: "replace_sheet", sheet: string}} ReplaceSheetOp
 * @typedef {ValuesOp | FillOp | NoteOp | DeleteNoteOp | HideColumnOp | ReplaceSheetOp} Instruction
 * @typedef {{syncs: number, writes: number, notesSkipped: number}} ApplyStats
 */

/**
 * Whether this Excel has an API set (always true where Office does not say).
 * @param {string} version
 * @returns {boolean}
 */
export function excelApi(version) {
  const office = /** @type {any} */ (globalThis).Office;
  const requirements = office?.context?.requirements;
  return requirements ? requirements.isSetSupported("ExcelApi", version) : true;
}

/**
 * Excel's number format marks a date or a time (the rule openpyxl and Excel use: a date code outside
 * quotes, brackets and escapes).
 * @param {unknown} format
 * @returns {boolean}
 */
export function isDateFormat(format) {
  if (typeof format !== "string" || format === "General" || format === "@") return false;
  const bare = format
    .replace(/"[^"]*"/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\\./g, "")
    .replace(/[_*]./g, "");
  return /[dmyhs]/i.test(bare);
}

/**
 * Excel's day number -> ISO text without a zone (the sheet's times are UTC by its headers).
 * @param {number} serial
 * @returns {string}
 */
export function serialToIso(serial) {
  const ms = Math.round((serial - 25569) * 86400000); // 25569: 1970-01-01 as an Excel serial
  return new Date(ms).toISOString().slice(0, 19);
}

/**
 * A cell as the companion reads it: dates as {date}, empty text as null.
 * @param {unknown} value
 * @param {unknown} format
 * @returns {SentCell}
 */
export function sentCell(value, format) {
  if (value === "" || value === undefined || value === null) return null;
  if (typeof value === "number" && isDateFormat(format)) return { date: serialToIso(value) };
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return value;
  return String(value);
}

/**
 * 1-based column number -> letters.
 * @param {number} col
 * @returns {string}
 */
export function columnLetters(col) {
  let out = "";
  for (let n = col; n > 0; n = Math.floor((n - 1) / 26)) out = String.fromCharCode(65 + ((n - 1) % 26)) + out;
  return out;
}

/**
 * Read what a run needs: the list of sheets, and the used ranges of the sheets named (those present).
 * @param {Excel.RequestContext} context
 * @param {{sheets: string[], url?: string, cellBudget?: number}} wanted
 * @returns {Promise<{book: SentBook, syncs: number, activeSheet: string}>}
 */
export async function readBook(context, wanted) {
  const budget = wanted.cellBudget ?? CELL_BUDGET;
  let syncs = 0;
  const workbook = context.workbook;
  const collection = workbook.worksheets;
  collection.load("items/name");
  const active = collection.getActiveWorksheet();
  active.load("name");
  workbook.load("name");
  await context.sync();
  syncs += 1;
  const names = collection.items.map((s) => s.name);
  const reading = names.filter((n) => wanted.sheets.includes(n) || n === active.name);
  const withNotes = excelApi("1.18");
  const used = reading.map((name) => {
    const sheet = collection.getItem(name);
    const range = sheet.getUsedRangeOrNullObject(true);
    range.load("rowIndex,columnIndex,rowCount,columnCount");
    const notes = withNotes ? sheet.notes : null;
    if (notes) notes.load("items/content");
    return { name, sheet, range, notes };
  });
  await context.sync();
  syncs += 1;

  /** @type {Record<string, SentGrid>} */
  const grids = {};
  /** @type {{grid: SentGrid, sheet: Excel.Worksheet, row: number, col: number, rows: number, cols: number}[]} */
  const bands = [];
  /** @type {{grid: SentGrid, location: Excel.Range, ours: boolean}[]} */
  const noteCells = [];
  for (const { name, sheet, range, notes } of used) {
    if (range.isNullObject) {
      grids[name] = { top: 1, left: 1, values: [[null]], notes: [] };
      continue;
    }
    const grid = { top: range.rowIndex + 1, left: range.columnIndex + 1, values: [], notes: [] };
    grids[name] = grid;
    const rowsPerBand = Math.max(1, Math.floor(budget / Math.max(1, range.columnCount)));
    for (let r = 0; r < range.rowCount; r += rowsPerBand) {
      bands.push({ grid, sheet, row: range.rowIndex + r, col: range.columnIndex,
        rows: Math.min(rowsPerBand, range.rowCount - r), cols: range.columnCount });
    }
    for (const note of notes ? notes.items : []) {
      const location = note.getLocation();
      location.load("rowIndex,columnIndex");
      noteCells.push({ grid, location, ours: String(note.content ?? "").startsWith(NOTE_HEADING) });
    }
  }
  // Bands in order, each sync loading at most `budget` cells (the note locations ride with the first); a band
  // is loaded only when its sync comes, so no response grows past the budget.
  let queued = noteCells.length > 0 ? 1 : 0;
  /** @type {{grid: SentGrid, range: Excel.Range}[]} */
  let pending = [];
  const flush = async () => {
    if (queued === 0) return;
    await context.sync();
    syncs += 1;
    for (const { grid, range } of pending) {
      const formats = range.numberFormat;
      for (let i = 0; i < range.values.length; i += 1) {
        grid.values.push(range.values[i].map((v, j) => sentCell(v, formats[i][j])));
      }
    }
    pending = [];
    queued = 0;
  };
  for (const band of bands) {
    const cells = band.rows * band.cols;
    if (queued > 0 && queued + cells > budget) await flush();
    const range = band.sheet.getRangeByIndexes(band.row, band.col, band.rows, band.cols);
    range.load("values,numberFormat");
    pending.push({ grid: band.grid, range });
    queued += cells;
  }
  await flush();
  for (const { grid, location, ours } of noteCells) {
    grid.notes.push({ row: location.rowIndex + 1, col: location.columnIndex + 1, ours });
  }
  const url = wanted.url ?? "";
  return { book: { name: workbook.name, url, sheets: names, grids }, syncs, activeSheet: active.name };
}

/**
 * The rows of the current selection on the active sheet (every area), for Push selected.
 * @param {Excel.RequestContext} context
 * @returns {Promise<Selection>}
 */
export async function selectedRows(context) {
  const areas = context.workbook.getSelectedRanges();
  areas.load("areas/items/rowIndex,areas/items/rowCount");
  const sheet = context.workbook.worksheets.getActiveWorksheet();
  sheet.load("name");
  await context.sync();
  /** @type {Set<number>} */
  const rows = new Set();
  for (const area of areas.areas.items) {
    for (let r = area.rowIndex; r < area.rowIndex + area.rowCount && rows.size < 1048576; r += 1) rows.add(r + 1);
  }
  return { sheet: sheet.name, rows: [...rows].sort((a, b) => a - b) };
}

/**
 * Apply the companion's instructions, batched: sheets are looked at once (protection, existence), then
 * every write is queued and synced whenever CELL_BUDGET cells are queued, and once at the end.
 * @param {Excel.RequestContext} context
 * @param {Instruction[]} instructions
 * @param {{cellBudget?: number}} [options]
 * @returns {Promise<ApplyStats>}
 */
export async function applyInstructions(context, instructions, options = {}) {
  const budget = options.cellBudget ?? CELL_BUDGET;
  const stats = { syncs: 0, writes: 0, notesSkipped: 0 };
  if (instructions.length === 0) return stats;
  const withNotes = excelApi("1.18");
  const collection = context.workbook.worksheets;
  collection.load("items/name");
  const targets = [...new Set(instructions.map((i) => i.sheet))];
  const replaced = new Set(instructions.filter((i) => i.op === "replace_sheet").map((i) => i.sheet));
  /** @type {Map<string, Excel.Worksheet>} */
  const sheets = new Map();
  /** @type {Map<string, Excel.WorksheetProtection>} */
  const protections = new Map();
  await context.sync();
  stats.syncs += 1;
  const existing = new Set(collection.items.map((s) => s.name));
  for (const name of targets) {
    if (existing.has(name) && !replaced.has(name)) {
      const sheet = collection.getItem(name);
      sheets.set(name, sheet);
      sheet.protection.load("protected,options");
      protections.set(name, sheet.protection);
    }
  }
  if (protections.size > 0) {
    await context.sync();
    stats.syncs += 1;
  }
  /** @type {[string, Excel.WorksheetProtectionOptions][]} */
  const reprotect = [];
  for (const [name, protection] of protections) {
    if (protection.protected) {
      reprotect.push([name, protection.options]);
      protection.unprotect(); // a password-protected sheet fails here: the caller says to unprotect it
    }
  }
  let queued = 0;
  const flushIfFull = async (/** @type {number} */ cells) => {
    if (queued > 0 && queued + cells > budget) {
      await context.sync();
      stats.syncs += 1;
      queued = 0;
    }
    queued += cells;
  };
  /** @param {string} name */
  const sheetOf = (name) => {
    let sheet = sheets.get(name);
    if (!sheet) {
      sheet = collection.getItem(name);
      sheets.set(name, sheet);
    }
    return sheet;
  };
  for (const op of instructions) {
    if (op.op === "replace_sheet") {
      if (existing.has(op.sheet)) collection.getItem(op.sheet).delete();
      sheets.set(op.sheet, collection.add(op.sheet));
      stats.writes += 1;
    } else if (op.op === "values") {
      const width = Math.max(0, ...op.values.map((r) => r.length));
      if (op.values.length === 0 || width === 0) continue;
      const rowsPerBand = Math.max(1, Math.floor(budget / width));
      for (let r = 0; r < op.values.length; r += rowsPerBand) {
        const rows = op.values.slice(r, r + rowsPerBand).map((line) => padded(line, width));
        await flushIfFull(rows.length * width);
        const range = sheetOf(op.sheet).getRangeByIndexes(op.row - 1 + r, op.col - 1, rows.length, width);
        if (op.formats) {
          range.numberFormat = op.formats.slice(r, r + rowsPerBand).map((line) => padded(line, width));
        }
        range.values = rows;
        stats.writes += 1;
      }
    } else if (op.op === "fill") {
      await flushIfFull(op.areas.length);
      const areas = sheetOf(op.sheet).getRanges(op.areas.join(","));
      if (op.color) areas.format.fill.color = op.color;
      else areas.format.fill.clear();
      stats.writes += 1;
    } else if (op.op === "note" || op.op === "delete_note") {
      if (!withNotes) {
        stats.notesSkipped += 1;
        continue;
      }
      await flushIfFull(1);
      const sheet = sheetOf(op.sheet);
      if (op.op === "note") sheet.notes.add(sheet.getRange(op.cell), op.text);
      else sheet.notes.getItem(op.cell).delete();
      stats.writes += 1;
    } else if (op.op === "hide_column") {
      await flushIfFull(1);
      sheetOf(op.sheet).getRangeByIndexes(0, op.col - 1, 1, 1).getEntireColumn().columnHidden = true;
      stats.writes += 1;
    }
  }
  for (const [name, settings] of reprotect) sheetOf(name).protection.protect(settings);
  await context.sync();
  stats.syncs += 1;
  return stats;
}

/**
 * A row of a rectangular block (null: leave the cell as it is).
 * @template T
 * @param {(T | null)[]} line
 * @param {number} width
 * @returns {(T | null)[]}
 */
function padded(line, width) {
  return line.length === width ? line : [...line, ...new Array(width - line.length).fill(null)];
}

/**
 * Save the workbook after a push, as the ribbon does (so the QaaS IDs are on disk); false where this
 * Excel cannot (the companion then keeps the push journal).
 * @param {Excel.RequestContext} context
 * @returns {Promise<boolean>}
 */
export async function saveBook(context) {
  if (!excelApi("1.11")) return false;
  try {
    context.workbook.save("Save");
    await context.sync();
    return true;
  } catch {
    return false;
  }
}
