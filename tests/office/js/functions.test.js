// Worksheet functions: Excel's calls for many cells become one request to the companion.
import assert from "node:assert/strict";
import { test } from "node:test";

import { CallBatcher } from "../../../qaas_excel/office/static/app/batcher.js";
import { FUNCTION_IDS, registerFunctions } from "../../../qaas_excel/office/static/app/functions.js";

function fakeCompanion() {
  const requests = [];
  return {
    requests,
    async call(path, body) {
      requests.push({ path, body });
      return { results: body.calls.map((c) => `${c.id}:${c.args.join("|")}`) };
    },
  };
}

function registry() {
  const functions = new Map();
  return { functions, associate: (id, fn) => functions.set(id, fn) };
}

const invocation = { address: "Sheet1!A1" };

test("every function of functions.json is registered", () => {
  const r = registry();
  registerFunctions(fakeCompanion(), r);
  assert.deepEqual([...r.functions.keys()], FUNCTION_IDS);
});

test("1,000 QAAS.STATUS cells recalculating together cost one request", async () => {
  const companion = fakeCompanion();
  const r = registry();
  registerFunctions(companion, r);
  const status = r.functions.get("STATUS");
  const answers = await Promise.all(Array.from({ length: 1000 }, (_, i) => status(i + 1, invocation)));
  assert.equal(companion.requests.length, 1);
  assert.equal(companion.requests[0].path, "/api/functions");
  assert.equal(companion.requests[0].body.calls.length, 1000);
  assert.equal(answers[0], "STATUS:1");
  assert.equal(answers[999], "STATUS:1000");
});

test("calls that straddle two event-loop turns still cost at most two requests", async () => {
  const companion = fakeCompanion();
  const r = registry();
  registerFunctions(companion, r, { windowMs: 5 });
  const status = r.functions.get("STATUS");
  const first = Array.from({ length: 500 }, (_, i) => status(i, invocation));
  await new Promise((resolve) => setImmediate(resolve));
  const second = Array.from({ length: 500 }, (_, i) => status(i + 500, invocation));
  await Promise.all([...first, ...second]);
  assert.ok(companion.requests.length <= 2, `${companion.requests.length} requests`);
});

test("an omitted optional argument is sent as null; the invocation object is not sent", async () => {
  const companion = fakeCompanion();
  const r = registry();
  registerFunctions(companion, r);
  await r.functions.get("CHARGEPOINTS")("SW-DD", undefined, 2024, invocation);
  assert.deepEqual(companion.requests[0].body.calls, [{ id: "CHARGEPOINTS", args: ["SW-DD", null, 2024] }]);
});

test("a companion that is not running shows its message in every cell of the batch, not an error", async () => {
  const r = registry();
  registerFunctions({ call: async () => { throw new Error("The QaaS companion is not running.\nStart it"); } }, r);
  const answers = await Promise.all([r.functions.get("STATUS")(1, invocation), r.functions.get("TOTAL")(invocation)]);
  assert.deepEqual(answers, ["The QaaS companion is not running.", "The QaaS companion is not running."]);
});

test("a batch larger than the maximum is split", async () => {
  const sizes = [];
  const batcher = new CallBatcher(async (calls) => { sizes.push(calls.length); return calls.map(() => 1); },
    { maxBatch: 400, windowMs: 5 });
  await Promise.all(Array.from({ length: 1000 }, () => batcher.call("STATUS", [1])));
  assert.deepEqual(sizes, [400, 400, 200]);
});
