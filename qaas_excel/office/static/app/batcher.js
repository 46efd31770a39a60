// @ts-check
/**
 * Worksheet functions, batched: Excel calls a function once per cell while it recalculates; every call
 * made within a short window goes to the companion in one request (1,000 QAAS.STATUS cells: one request,
 * two if Excel's calls straddle a window), and the companion answers all of them from one list call.
 */

/** @typedef {{id: string, args: unknown[]}} Call */

export class CallBatcher {
  /**
   * @param {(calls: Call[]) => Promise<unknown[]>} send one request for many calls, answers in order
   * @param {{windowMs?: number, maxBatch?: number}} [options]
   */
  constructor(send, options = {}) {
    this.send = send;
    this.windowMs = options.windowMs ?? 30;
    this.maxBatch = options.maxBatch ?? 5000;
    /** @type {{call: Call, resolve: (v: unknown) => void, reject: (e: unknown) => void}[]} */
    this.queue = [];
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.timer = null;
    this.batches = 0;
  }

  /**
   * @param {string} id
   * @param {unknown[]} args
   * @returns {Promise<unknown>}
   */
  call(id, args) {
    return new Promise((resolve, reject) => {
      this.queue.push({ call: { id, args }, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (this.timer === null) this.timer = setTimeout(() => this.flush(), this.windowMs);
    });
  }

  flush() {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.queue.splice(0, this.maxBatch);
    if (batch.length === 0) return;
    this.batches += 1;
    this.send(batch.map((b) => b.call)).then(
      (answers) => batch.forEach((b, i) => b.resolve(answers[i])),
      (error) => batch.forEach((b) => b.reject(error)),
    );
    if (this.queue.length > 0) this.timer = setTimeout(() => this.flush(), this.windowMs);
  }
}
