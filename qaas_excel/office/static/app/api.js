// @ts-check
/**
 * The companion's API, as the add-in calls it: POST, JSON, the per-install secret in a header.
 * The secret is in the served page (a meta tag); a web page of another origin cannot read it.
 */

export const SECRET_HEADER = "X-QaaS-Secret";

/** An error the companion answered with: its message is for the user, `kind` for the code. */
export class CompanionError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {string} kind
   */
  constructor(message, status, kind) {
    super(message);
    this.name = "CompanionError";
    this.status = status;
    this.kind = kind;
  }
}

export class Companion {
  /**
   * @param {string} secret
   * @param {{fetch?: typeof fetch, base?: string}} [options]
   */
  constructor(secret, options = {}) {
    this.secret = secret;
    this.fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.base = options.base ?? "";
    this.requests = 0;
  }

  /**
   * @param {string} path e.g. "/api/status"
   * @param {unknown} [body]
   * @returns {Promise<any>}
   */
  async call(path, body = {}) {
    this.requests += 1;
    let answer;
    try {
      answer = await this.fetch(this.base + path, {
        method: "POST",
        headers: { "Content-Type": "application/json", [SECRET_HEADER]: this.secret },
        body: JSON.stringify(body),
        credentials: "same-origin",
        cache: "no-store",
      });
    } catch {
      throw new CompanionError(
        "The QaaS companion is not running. Start it with `qaas-excel serve` (or sign in to your computer again " +
          "if it starts at login), then try again.",
        0,
        "offline",
      );
    }
    let data;
    try {
      data = await answer.json();
    } catch {
      data = null;
    }
    if (!answer.ok) {
      const message = data && typeof data.error === "string" ? data.error : `The companion answered ${answer.status}.`;
      throw new CompanionError(message, answer.status, data && typeof data.kind === "string" ? data.kind : "http");
    }
    return data;
  }
}

/**
 * The secret the companion put into the page.
 * @param {Document} document
 * @returns {string}
 */
export function pageSecret(document) {
  const meta = document.querySelector('meta[name="qaas-secret"]');
  return meta ? meta.getAttribute("content") ?? "" : "";
}
