// @ts-nocheck
/**
 * A fake of the Excel JavaScript API, as strict as the real one about batching: every load and every write
 * is queued and happens at `context.sync()`, in order; reading a property that was not loaded (or before the
 * sync) throws, as Office.js does. It counts syncs, measures each sync's payload (Excel on the web refuses
 * more than 5 MB) and records every range written.
 *
 * A plain script (no import/export): Node imports it as a module and the browser test loads it in place of
 * office.js; either way it sets globalThis.QaasFake.
 */
(function () {
  const key = (r, c) => `${r},${c}`;

  function letters(col) {
    let out = "";
    for (let n = col; n > 0; n = Math.floor((n - 1) / 26)) out = String.fromCharCode(65 + ((n - 1) % 26)) + out;
    return out;
  }

  function parseCell(address) {
    const m = /^\$?([A-Z]+)\$?(\d+)$/.exec(address.trim());
    if (!m) throw new Error(`InvalidArgument: bad address ${address}`);
    let col = 0;
    for (const ch of m[1]) col = col * 26 + (ch.charCodeAt(0) - 64);
    return [Number(m[2]), col];
  }

  function parseArea(area) {
    const [a, b] = area.split(":");
    const [r1, c1] = parseCell(a);
    const [r2, c2] = b ? parseCell(b) : [r1, c1];
    return { r1, c1, r2, c2 };
  }

  class Sheet {
    constructor(name) {
      this.name = name;
      this.cells = new Map(); // "r,c" -> value
      this.formats = new Map(); // "r,c" -> number format
      this.fills = new Map(); // "r,c" -> colour
      this.notes = new Map(); // "r,c" -> text
      this.hidden = new Set();
      this.protected = false;
      this.password = false;
      this.protectionOptions = { allowFormatCells: false };
    }

    set(r, c, value) {
      if (value === "" || value === null || value === undefined) this.cells.delete(key(r, c));
      else this.cells.set(key(r, c), typeof value === "string" && value.startsWith("'") ? value.slice(1) : value);
    }

    get(r, c) {
      return this.cells.has(key(r, c)) ? this.cells.get(key(r, c)) : "";
    }

    used() {
      let top = Infinity, left = Infinity, bottom = 0, right = 0;
      for (const k of this.cells.keys()) {
        const [r, c] = k.split(",").map(Number);
        top = Math.min(top, r); left = Math.min(left, c); bottom = Math.max(bottom, r); right = Math.max(right, c);
      }
      return bottom === 0 ? null : { top, left, bottom, right };
    }
  }

  class Book {
    constructor(name = "Book.xlsx") {
      this.name = name;
      this.sheets = [];
      this.active = null;
      this.selection = [];
      this.saved = 0;
    }

    addSheet(name) {
      if (this.sheet(name)) throw new Error(`ItemAlreadyExists: ${name}`);
      const s = new Sheet(name);
      this.sheets.push(s);
      if (!this.active) this.active = name;
      return s;
    }

    sheet(name) {
      return this.sheets.find((s) => s.name === name) ?? null;
    }

    /** A sheet from rows (row 1 first); Date objects become serials with a date format. */
    static fromRows(book, name, rows, { top = 1, left = 1 } = {}) {
      const s = book.addSheet(name);
      rows.forEach((line, i) => line.forEach((v, j) => {
        if (v instanceof Date) {
          s.set(top + i, left + j, v.getTime() / 86400000 + 25569);
          s.formats.set(key(top + i, left + j), "dd.mm.yyyy");
        } else if (v !== null && v !== undefined && v !== "") {
          s.set(top + i, left + j, v);
        }
      }));
      return s;
    }
  }

  /** Each proxy keeps what was loaded; reading before the sync that loads it throws. */
  class Proxy {
    constructor(ctx) {
      this._ctx = ctx;
      this._loaded = null;
    }

    _get(name) {
      if (!this._loaded || !(name in this._loaded)) {
        throw new Error(`PropertyNotLoaded: ${name} was not loaded and synced`);
      }
      return this._loaded[name];
    }

    _load(fill) {
      this._ctx._queue.push({ kind: "load", run: () => {
        const data = fill();
        this._loaded = Object.assign(this._loaded ?? {}, data);
        return JSON.stringify(data).length;
      } });
      return this;
    }
  }

  class Context {
    constructor(fake) {
      this._fake = fake;
      this._queue = [];
      this.workbook = new WorkbookProxy(this);
    }

    _write(describe, run, size) {
      this._queue.push({ kind: "write", run: () => { run(); return size; } });
      this._fake.writes.push(describe);
    }

    async sync() {
      const queue = this._queue;
      this._queue = [];
      let bytes = 0;
      for (const action of queue) bytes += action.run() ?? 0;
      this._fake.syncs += 1;
      this._fake.syncBytes.push(bytes);
      if (bytes > 5 * 1024 * 1024) throw new Error(`RequestPayloadSizeLimitExceeded: ${bytes} bytes in one sync`);
      await Promise.resolve();
    }
  }

  class WorkbookProxy extends Proxy {
    constructor(ctx) {
      super(ctx);
      this.worksheets = new WorksheetsProxy(ctx);
    }

    get name() { return this._get("name"); }

    load() { return this._load(() => ({ name: this._ctx._fake.book.name })); }

    getSelectedRanges() {
      const areas = new Proxy(this._ctx);
      const fake = this._ctx._fake;
      areas._load(() => ({ areas: { items: fake.book.selection.map((a) => ({ rowIndex: a.row - 1, rowCount: a.rows })) } }));
      Object.defineProperty(areas, "areas", { get: () => areas._get("areas") });
      areas.load = () => areas;
      return areas;
    }

    save(behavior) {
      this._ctx._write({ op: "save", behavior }, () => { this._ctx._fake.book.saved += 1; }, 10);
    }
  }

  class WorksheetsProxy extends Proxy {
    get items() { return this._get("items"); }

    load() {
      return this._load(() => ({ items: this._ctx._fake.book.sheets.map((s) => ({ name: s.name })) }));
    }

    getItem(name) { return new WorksheetProxy(this._ctx, name); }

    getActiveWorksheet() {
      const ws = new WorksheetProxy(this._ctx, null);
      ws._active = true;
      return ws;
    }

    add(name) {
      this._ctx._write({ op: "addSheet", sheet: name }, () => this._ctx._fake.book.addSheet(name), name.length);
      return new WorksheetProxy(this._ctx, name);
    }
  }

  class WorksheetProxy extends Proxy {
    constructor(ctx, name) {
      super(ctx);
      this._name = name;
      this.protection = new ProtectionProxy(ctx, this);
      this.notes = new NotesProxy(ctx, this);
    }

    _sheet() {
      const book = this._ctx._fake.book;
      const name = this._active ? book.active : this._name;
      const s = book.sheet(name);
      if (!s) throw new Error(`ItemNotFound: sheet ${name}`);
      return s;
    }

    get name() { return this._get("name"); }

    load() { return this._load(() => ({ name: this._sheet().name })); }

    delete() {
      this._ctx._write({ op: "deleteSheet", sheet: this._name }, () => {
        const book = this._ctx._fake.book;
        book.sheets = book.sheets.filter((s) => s !== this._sheet());
      }, 10);
    }

    getUsedRangeOrNullObject() {
      const range = new RangeProxy(this._ctx, this, null);
      range._used = true;
      return range;
    }

    getRangeByIndexes(row, col, rows, cols) {
      return new RangeProxy(this._ctx, this, { r1: row + 1, c1: col + 1, r2: row + rows, c2: col + cols });
    }

    getRange(address) { return new RangeProxy(this._ctx, this, parseArea(address)); }

    getRanges(addresses) {
      return new RangeAreasProxy(this._ctx, this, addresses.split(",").map((a) => parseArea(a)));
    }
  }

  class RangeProxy extends Proxy {
    constructor(ctx, sheet, area) {
      super(ctx);
      this._sheetProxy = sheet;
      this._area = area;
    }

    _sheet() { return this._sheetProxy._sheet(); }

    _box() {
      if (this._area) return this._area;
      const used = this._sheet().used();
      return used ? { r1: used.top, c1: used.left, r2: used.bottom, c2: used.right } : null;
    }

    get isNullObject() { return this._get("isNullObject"); }
    get rowIndex() { return this._get("rowIndex"); }
    get columnIndex() { return this._get("columnIndex"); }
    get rowCount() { return this._get("rowCount"); }
    get columnCount() { return this._get("columnCount"); }
    get values() { return this._get("values"); }
    get numberFormat() { return this._get("numberFormat"); }

    load(props) {
      const wanted = String(props).split(",").map((p) => p.trim());
      return this._load(() => {
        const box = this._box();
        const s = this._sheet();
        if (!box) return { isNullObject: true };
        const out = { isNullObject: false, rowIndex: box.r1 - 1, columnIndex: box.c1 - 1,
          rowCount: box.r2 - box.r1 + 1, columnCount: box.c2 - box.c1 + 1 };
        const grid = (fn) => Array.from({ length: box.r2 - box.r1 + 1 }, (_, i) =>
          Array.from({ length: box.c2 - box.c1 + 1 }, (_, j) => fn(box.r1 + i, box.c1 + j)));
        if (wanted.includes("values")) out.values = grid((r, c) => s.get(r, c));
        if (wanted.includes("numberFormat")) out.numberFormat = grid((r, c) => s.formats.get(key(r, c)) ?? "General");
        const cells = (out.values ? 1 : 0) + (out.numberFormat ? 1 : 0);
        if (cells && (box.r2 - box.r1 + 1) * (box.c2 - box.c1 + 1) > 5_000_000) throw new Error("range too large");
        return out;
      });
    }

    set values(rows) {
      const box = this._area;
      const size = JSON.stringify(rows).length;
      const fake = this._ctx._fake;
      if (rows.length !== box.r2 - box.r1 + 1 || rows.some((r) => r.length !== box.c2 - box.c1 + 1)) {
        throw new Error("InvalidArgument: the values do not match the range's size");
      }
      this._ctx._write({ op: "values", sheet: this._sheetProxy._name, address: this.address(), cells: size }, () => {
        const s = this._sheet();
        rows.forEach((line, i) => line.forEach((v, j) => {
          if (v !== null) s.set(box.r1 + i, box.c1 + j, v);
        }));
        fake.cellsWritten += rows.reduce((n, r) => n + r.filter((v) => v !== null).length, 0);
      }, size);
    }

    set numberFormat(rows) {
      const box = this._area;
      this._ctx._write({ op: "numberFormat", sheet: this._sheetProxy._name, address: this.address() }, () => {
        const s = this._sheet();
        rows.forEach((line, i) => line.forEach((v, j) => {
          if (v !== null) s.formats.set(key(box.r1 + i, box.c1 + j), v);
        }));
      }, JSON.stringify(rows).length);
    }

    address() {
      const b = this._area;
      return `${letters(b.c1)}${b.r1}:${letters(b.c2)}${b.r2}`;
    }

    getEntireColumn() {
      const column = this._area.c1;
      const ctx = this._ctx;
      const sheet = this._sheetProxy;
      return {
        set columnHidden(v) {
          ctx._write({ op: "hideColumn", sheet: sheet._name, col: column }, () => {
            if (v) sheet._sheet().hidden.add(column);
          }, 10);
        },
      };
    }
  }

  class RangeAreasProxy extends Proxy {
    constructor(ctx, sheet, areas) {
      super(ctx);
      const self = this;
      const paint = (colour) => ctx._write({ op: "fill", sheet: sheet._name, areas: areas.length, colour }, () => {
        const s = sheet._sheet();
        for (const a of areas) {
          for (let r = a.r1; r <= a.r2; r += 1) {
            for (let c = a.c1; c <= a.c2; c += 1) {
              if (colour) s.fills.set(key(r, c), colour);
              else s.fills.delete(key(r, c));
            }
          }
        }
      }, areas.length * 12);
      this.format = { fill: { set color(v) { paint(v); }, clear() { paint(null); } } };
      void self;
    }
  }

  class ProtectionProxy extends Proxy {
    constructor(ctx, sheet) {
      super(ctx);
      this._sheetProxy = sheet;
    }

    get protected() { return this._get("protected"); }
    get options() { return this._get("options"); }

    load() {
      return this._load(() => {
        const s = this._sheetProxy._sheet();
        return { protected: s.protected, options: { ...s.protectionOptions } };
      });
    }

    unprotect() {
      this._ctx._write({ op: "unprotect", sheet: this._sheetProxy._name }, () => {
        const s = this._sheetProxy._sheet();
        if (s.password) {
          const error = new Error("The sheet is protected with a password.");
          error.code = "InvalidArgument";
          throw error;
        }
        s.protected = false;
      }, 10);
    }

    protect(options) {
      this._ctx._write({ op: "protect", sheet: this._sheetProxy._name }, () => {
        const s = this._sheetProxy._sheet();
        s.protected = true;
        s.protectionOptions = { ...options };
      }, 10);
    }
  }

  class NotesProxy extends Proxy {
    constructor(ctx, sheet) {
      super(ctx);
      this._sheetProxy = sheet;
    }

    get items() { return this._get("items"); }

    load() {
      return this._load(() => {
        const s = this._sheetProxy._sheet();
        return { items: [...s.notes.entries()].map(([k, text]) => {
          const [r, c] = k.split(",").map(Number);
          const ctx = this._ctx;
          const sheet = this._sheetProxy;
          return { content: text, getLocation: () => new RangeProxy(ctx, sheet, { r1: r, c1: c, r2: r, c2: c }) };
        }) };
      });
    }

    add(range, text) {
      const area = typeof range === "string" ? parseArea(range) : range._area;
      this._ctx._write({ op: "note", sheet: this._sheetProxy._name }, () => {
        const s = this._sheetProxy._sheet();
        if (s.notes.has(key(area.r1, area.c1))) throw new Error("InvalidArgument: the cell has a note already");
        s.notes.set(key(area.r1, area.c1), text);
      }, text.length);
    }

    getItem(address) {
      const [r, c] = parseCell(address);
      return {
        delete: () => this._ctx._write({ op: "deleteNote", sheet: this._sheetProxy._name }, () => {
          const s = this._sheetProxy._sheet();
          if (!s.notes.delete(key(r, c))) throw new Error(`ItemNotFound: no note at ${address}`);
        }, 10),
      };
    }
  }

  class FakeExcel {
    constructor(book = new Book()) {
      this.book = book;
      this.syncs = 0;
      this.syncBytes = [];
      this.writes = [];
      this.cellsWritten = 0;
      this.created = [];
    }

    reset() {
      this.syncs = 0;
      this.syncBytes = [];
      this.writes = [];
      this.cellsWritten = 0;
    }

    /** What Excel.run does: a context, the work, and a final sync of anything still queued. */
    async run(work) {
      const ctx = new Context(this);
      const result = await work(ctx);
      if (ctx._queue.length) await ctx.sync();
      return result;
    }

    async createWorkbook(base64) {
      this.created.push(base64);
    }

    /** Globals as office.js would set them (browser test). */
    install(target, { url = "", apiVersion = "1.18" } = {}) {
      const fake = this;
      const actions = new Map();
      const functions = new Map();
      target.Excel = { run: (work) => fake.run(work), createWorkbook: (b) => fake.createWorkbook(b) };
      target.CustomFunctions = { associate: (id, fn) => functions.set(id, fn) };
      target.Office = {
        onReady: (cb) => Promise.resolve().then(() => cb({ host: "Excel" })),
        context: {
          document: { url },
          requirements: { isSetSupported: (_set, version) => Number(version) <= Number(apiVersion) },
          ui: { openBrowserWindow: (u) => target.open(u, "_blank") },
        },
        actions: { associate: (name, fn) => actions.set(name, fn) },
        addin: { showAsTaskpane: async () => {} },
      };
      target.QaasOffice = { actions, functions, fake };
      return target.Office;
    }
  }

  globalThis.QaasFake = { Book, Sheet, FakeExcel, letters };
})();
