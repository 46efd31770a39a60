// @ts-check
/**
 * The add-in's page (the shared runtime): registers the ribbon commands and the worksheet functions, and
 * draws the task pane. Loaded after office.js; everything it does goes through the controller.
 */
import { Companion, pageSecret } from "./api.js";
import { COMMANDS, Controller } from "./controller.js";
import { registerFunctions } from "./functions.js";

/** @param {string} id */
function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the task pane has no #${id}`);
  return el;
}

/** The task pane's DOM. */
export class PaneView {
  constructor() {
    this.env = /** @type {HTMLSelectElement} */ (byId("env"));
    this.who = byId("who");
    this.signinBox = byId("signin");
    this.code = byId("code");
    this.link = /** @type {HTMLAnchorElement} */ (byId("link"));
    this.signinText = byId("signin-text");
    this.result = byId("result");
    this.resultTitle = byId("result-title");
    this.resultText = byId("result-text");
    this.working = byId("working");
    this.buttons = byId("buttons");
  }

  /** @param {any} status */
  showStatus(status) {
    this.env.replaceChildren(...status.environments.map((/** @type {string} */ name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = name;
      option.selected = name === status.env;
      return option;
    }));
    this.who.textContent = status.username
      ? `Signed in as ${status.username}`
      : status.problem ?? "Not signed in";
    this.who.dataset.state = status.username ? "signed-in" : "signed-out";
    if (Array.isArray(status.buttons) && this.buttons.childElementCount === 0) this.drawButtons(status.buttons);
  }

  /** @param {{command: string, label: string, tip: string}[]} buttons */
  drawButtons(buttons) {
    for (const b of buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.id = `cmd-${b.command}`;
      button.dataset.command = b.command;
      button.textContent = b.label;
      button.title = b.tip;
      this.buttons.append(button);
    }
  }

  /** @param {any} state */
  showSignIn(state) {
    this.signinBox.hidden = state.state === "idle";
    this.signinBox.dataset.state = state.state;
    this.code.textContent = state.state === "pending" ? state.user_code ?? "" : "";
    if (state.verification_uri) {
      this.link.href = state.verification_uri;
      this.link.textContent = state.verification_uri;
    }
    this.link.hidden = state.state !== "pending";
    byId("copy").hidden = state.state !== "pending";
    byId("code-line").hidden = state.state !== "pending";
    byId("cancel").hidden = state.state !== "pending";
    this.signinText.textContent = state.state === "pending"
      ? "Open the link, enter the code and approve. You can keep working in Excel meanwhile."
      : state.message ?? "";
  }

  /**
   * @param {string} title
   * @param {string} text
   * @param {boolean} attention
   */
  showResult(title, text, attention) {
    this.result.hidden = false;
    this.result.dataset.kind = attention ? "attention" : "ok";
    this.resultTitle.textContent = title;
    this.resultText.textContent = text;
  }

  /** @param {string} text */
  showError(text) {
    this.showResult("Something needs your attention", text, true);
    this.result.dataset.kind = "error";
  }

  /** @param {string | null} label */
  busy(label) {
    this.working.hidden = label === null;
    this.working.textContent = label ? `Working: ${label.replace("_", " ")} ...` : "";
    for (const b of this.buttons.querySelectorAll("button")) b.disabled = label !== null;
  }

  focusEnvironment() {
    this.env.focus();
  }
}

/** @param {string} text */
async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

function start() {
  const office = /** @type {any} */ (globalThis).Office;
  const excel = /** @type {any} */ (globalThis).Excel;
  const registry = /** @type {any} */ (globalThis).CustomFunctions;
  const companion = new Companion(pageSecret(document));
  if (registry) registerFunctions(companion, registry);
  const view = new PaneView();
  const controller = new Controller({
    companion,
    view,
    excel: {
      run: (work) => excel.run(work),
      createWorkbook: async (base64) => { await excel.createWorkbook(base64); },
    },
    documentUrl: () => office?.context?.document?.url ?? "",
  });
  /** @type {any} */ (globalThis).qaasController = controller;
  for (const name of COMMANDS) {
    office.actions.associate(name, async (/** @type {any} */ event) => {
      try {
        await office.addin.showAsTaskpane();
      } catch {
        // a host without a task pane API still runs the command; its result waits in the pane
      }
      await controller.command(name);
      event.completed();
    });
  }
  view.buttons.addEventListener("click", (event) => {
    const target = /** @type {HTMLElement} */ (event.target);
    const name = target.closest("button")?.dataset.command;
    if (name) void controller.command(name);
  });
  view.env.addEventListener("change", () => void controller.chooseEnvironment(view.env.value));
  byId("copy").addEventListener("click", () => void copyText(view.code.textContent ?? ""));
  byId("cancel").addEventListener("click", () => void controller.cancelSignIn());
  view.link.addEventListener("click", (event) => {
    const ui = office?.context?.ui;
    if (ui && typeof ui.openBrowserWindow === "function") {
      event.preventDefault();
      ui.openBrowserWindow(view.link.href);
    }
  });
  void controller.refresh();
}

/** @type {any} */ (globalThis).Office.onReady(() => start());
