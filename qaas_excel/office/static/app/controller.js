// @ts-check
/**
 * What the QaaS buttons do in the Office add-in, whether pressed on the ribbon or in the task pane.
 * Thin: the companion does the work with the library the CLI and the VBA ribbon use; this reads the
 * workbook, sends it, and applies the answer.
 */
import { applyInstructions, readBook, saveBook, selectedRows } from "./excel-io.js";

/** The ribbon's buttons by the Python macro each runs (excel/ribbon.py); a Python test fails on drift. */
export const COMMANDS = [
  "sign_in", "sign_out", "choose_environment", "validate", "push", "push_selected", "overwrite_selected", "pull",
  "reconcile", "new_workbook", "show_help",
];
const BOOK_COMMANDS = ["validate", "push", "push_selected", "overwrite_selected", "pull", "reconcile"];
const PUSHES = ["push", "push_selected", "overwrite_selected"];
const SELECTED = ["push_selected", "overwrite_selected"];
const SIGNIN_POLL_MS = 2000;

/**
 * @typedef {{showStatus: (s: any) => void, showSignIn: (s: any) => void, showResult: (title: string, text: string,
 *   attention: boolean) => void, showError: (text: string) => void, busy: (label: string | null) => void,
 *   focusEnvironment: () => void}} View
 * @typedef {{run: <T>(work: (context: Excel.RequestContext) => Promise<T>) => Promise<T>,
 *   createWorkbook?: (base64: string) => Promise<void>}} ExcelHost
 * @typedef {{call: (path: string, body?: unknown) => Promise<any>}} CompanionLike
 */

export class Controller {
  /**
   * @param {{companion: CompanionLike, excel: ExcelHost, view: View, documentUrl?: () => string,
   *   openLink?: (url: string) => void, pollMs?: number}} parts
   */
  constructor(parts) {
    this.companion = parts.companion;
    this.excel = parts.excel;
    this.view = parts.view;
    this.documentUrl = parts.documentUrl ?? (() => "");
    this.openLink = parts.openLink ?? (() => {});
    this.pollMs = parts.pollMs ?? SIGNIN_POLL_MS;
    /** @type {string | null} */
    this.running = null;
    /** @type {any} */
    this.lastStatus = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.poll = null;
  }

  /**
   * Run one of COMMANDS; every error ends as a message in the task pane.
   * @param {string} name
   */
  async command(name) {
    try {
      if (BOOK_COMMANDS.includes(name)) await this.bookCommand(name);
      else if (name === "sign_in") await this.signIn();
      else if (name === "sign_out") await this.signOut();
      else if (name === "choose_environment") this.view.focusEnvironment();
      else if (name === "new_workbook") await this.newWorkbook();
      else if (name === "show_help") await this.help();
      else throw new Error(`Unknown QaaS command ${name}.`);
    } catch (error) {
      this.view.showError(error instanceof Error ? error.message : String(error));
    }
  }

  async refresh() {
    try {
      this.lastStatus = await this.companion.call("/api/status");
      this.view.showStatus(this.lastStatus);
      if (this.lastStatus.signin && this.lastStatus.signin.state === "pending") {
        this.view.showSignIn(this.lastStatus.signin);
        this.schedulePoll();
      }
    } catch (error) {
      this.view.showError(error instanceof Error ? error.message : String(error));
    }
    return this.lastStatus;
  }

  /** @returns {Promise<string[]>} the sheets a run reads (template sheets and the hidden column map) */
  async sheetsToRead() {
    const status = this.lastStatus ?? (await this.refresh());
    return status && Array.isArray(status.sheets) ? status.sheets : ["Operators", "ChargePoints", "_qaas"];
  }

  /** @param {string} name */
  async bookCommand(name) {
    if (this.running) {
      this.view.showError(`QaaS is still working on ${this.running.replace("_", " ")}; wait for it to finish.`);
      return;
    }
    this.running = name;
    this.view.busy(name);
    try {
      const sheets = await this.sheetsToRead();
      const { book, selection } = await this.excel.run(async (context) => {
        const chosen = SELECTED.includes(name) ? await selectedRows(context) : null;
        const read = await readBook(context, { sheets, url: this.documentUrl() });
        return { book: read.book, selection: chosen };
      });
      if (SELECTED.includes(name) && (!selection || selection.rows.length === 0)) {
        this.view.showError("Select the rows to push first.");
        return;
      }
      const answer = await this.companion.call(`/api/run/${name}`, { command: name, book, selection });
      let applied = false;
      let saved = false;
      try {
        await this.excel.run(async (context) => {
          await applyInstructions(context, answer.instructions);
          applied = true;
          if (PUSHES.includes(name)) saved = await saveBook(context);
        });
      } finally {
        if (PUSHES.includes(name)) await this.companion.call("/api/settle", { run: answer.run, applied, saved });
      }
      this.view.showResult(title(name), answer.summary, Boolean(answer.attention));
    } catch (error) {
      this.view.showError(describe(error));
    } finally {
      this.running = null;
      this.view.busy(null);
    }
  }

  async signIn() {
    const state = await this.companion.call("/api/signin/start");
    this.view.showSignIn(state);
    this.schedulePoll();
  }

  schedulePoll() {
    if (this.poll !== null) return;
    this.poll = setTimeout(async () => {
      this.poll = null;
      let state;
      try {
        state = await this.companion.call("/api/signin/status");
      } catch (error) {
        this.view.showError(describe(error));
        return;
      }
      this.view.showSignIn(state);
      if (state.state === "pending") this.schedulePoll();
      else await this.refresh();
    }, this.pollMs);
  }

  async cancelSignIn() {
    this.view.showSignIn(await this.companion.call("/api/signin/cancel"));
  }

  async signOut() {
    const answer = await this.companion.call("/api/signout");
    this.view.showResult("Sign out", answer.message, false);
    await this.refresh();
  }

  /** @param {string} env */
  async chooseEnvironment(env) {
    try {
      this.lastStatus = await this.companion.call("/api/environment", { env });
      this.view.showStatus(this.lastStatus);
      this.view.showSignIn({ state: "idle" });
    } catch (error) {
      this.view.showError(describe(error));
      await this.refresh();
    }
  }

  async newWorkbook() {
    const template = await this.companion.call("/api/template");
    if (!this.excel.createWorkbook) throw new Error("This Excel cannot open a new workbook from an add-in.");
    await this.excel.createWorkbook(template.base64);
  }

  async help() {
    const answer = await this.companion.call("/api/help");
    this.view.showResult("Help", answer.text, false);
  }
}

/** @param {string} name */
function title(name) {
  const words = name.replace("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/**
 * @param {unknown} error
 * @returns {string}
 */
function describe(error) {
  if (error instanceof Error) {
    const code = /** @type {any} */ (error).code;
    if (code === "AccessDenied" || /protect/i.test(error.message)) {
      return "A sheet is protected with a password. Unprotect it (Review > Unprotect Sheet) and try again.";
    }
    return error.message;
  }
  return String(error);
}
