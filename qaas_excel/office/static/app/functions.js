// @ts-check
/**
 * The QAAS.* worksheet functions. Their metadata (functions.json) is made from excel/udfs.py by the
 * companion; every function here forwards its arguments to the same Python function, batched.
 */
import { CallBatcher } from "./batcher.js";

/** The ids of functions.json, in its order (a Python test fails if they drift from excel/udfs.py). */
export const FUNCTION_IDS = ["STATUS", "RECORD", "OPERATORS", "CHARGEPOINTS", "TOTAL", "CHECKEVSE"];

/**
 * A cell's answer as Excel takes it from a custom function.
 * @param {unknown} value
 * @returns {any}
 */
function cellAnswer(value) {
  return value === null || value === undefined ? "" : value;
}

/**
 * Register every function with Excel; each call goes through one shared batcher.
 * @param {{call: (path: string, body?: unknown) => Promise<any>}} companion
 * @param {{associate: (id: string, fn: (...args: any[]) => any) => void}} registry CustomFunctions
 * @param {{windowMs?: number}} [options]
 * @returns {CallBatcher}
 */
export function registerFunctions(companion, registry, options = {}) {
  const batcher = new CallBatcher(async (calls) => {
    try {
      const answer = await companion.call("/api/functions", { calls });
      return answer.results;
    } catch (error) {
      const text = error instanceof Error ? error.message.split("\n")[0] : "QaaS companion not reachable";
      return calls.map(() => text);
    }
  }, options);
  for (const id of FUNCTION_IDS) {
    registry.associate(id, (/** @type {any[]} */ ...args) => {
      // Excel passes an invocation object last; the companion needs only the cell arguments.
      const values = args.slice(0, -1).map((a) => (a === undefined ? null : a));
      return batcher.call(id, values).then(cellAnswer);
    });
  }
  return batcher;
}
