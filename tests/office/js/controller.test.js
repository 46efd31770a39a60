// The buttons: read the workbook, ask the companion, apply its answer, settle a push, show the result.
import assert from "node:assert/strict";
import { test } from "node:test";

import "./fake-excel.js";
import { CompanionError } from "../../../qaas_excel/office/static/app/api.js";
import { COMMANDS, Controller } from "../../../qaas_excel/office/static/app/controller.js";

const { Book, FakeExcel } = globalThis.QaasFake;

function view() {
  const shown = { results: [], errors: [], signin: [], busy: [], status: [] };
  return {
    shown,
    showStatus: (s) => shown.status.push(s),
    showSignIn: (s) => shown.signin.push(s),
    showResult: (title, text, attention) => shown.results.push({ title, text, attention }),
    showError: (text) => shown.errors.push(text),
    busy: (label) => shown.busy.push(label),
    focusEnvironment: () => shown.results.push({ title: "focus" }),
  };
}

function companion(answers) {
  const calls = [];
  return {
    calls,
    async call(path, body) {
      calls.push({ path, body });
      const answer = answers[path];
      if (answer instanceof Error) throw answer;
      return typeof answer === "function" ? answer(body) : answer ?? {};
    },
  };
}

function book() {
  const b = new Book("demo.xlsx");
  Book.fromRows(b, "ChargePoints", [["EVSE ID *", "QaaS ID"], ["DE*ABC*E1234567*1", null]]);
  return b;
}

const STATUS = { env: "sandbox", environments: ["production", "sandbox"], sheets: ["ChargePoints"], buttons: [] };

test("every ribbon command has a handler", async () => {
  for (const name of COMMANDS) {
    const v = view();
    const c = new Controller({ companion: companion({ "/api/status": STATUS, "/api/signin/start": { state: "idle" },
      "/api/signout": { message: "Signed out." }, "/api/help": { text: "Help" },
      "/api/template": { base64: "UEs=" }, "/api/run/validate": { instructions: [], summary: "ok" },
      "/api/run/push": { instructions: [], summary: "ok" }, "/api/run/pull": { instructions: [], summary: "ok" },
      "/api/run/reconcile": { instructions: [], summary: "ok" } }), excel: new FakeExcel(book()), view: v,
      pollMs: 100000 });
    await c.command(name);
    assert.ok(!v.shown.errors.some((e) => e.startsWith("Unknown")), `${name}: ${v.shown.errors}`);
    if (c.poll) clearTimeout(c.poll);
  }
});

test("push: the workbook goes to the companion, its instructions into the sheet, then the run is settled", async () => {
  const fake = new FakeExcel(book());
  const api = companion({
    "/api/status": STATUS,
    "/api/run/push": (body) => {
      assert.equal(body.command, "push");
      assert.equal(body.book.url, "https://contoso.sharepoint.com/demo.xlsx");
      assert.deepEqual(body.book.grids.ChargePoints.values[1], ["DE*ABC*E1234567*1", null]);
      return { run: "r1", summary: "Push finished.\nChargePoints: 1 created", attention: false,
        instructions: [{ op: "values", sheet: "ChargePoints", row: 2, col: 2, values: [[41]] }] };
    },
    "/api/settle": { journal_cleared: true },
  });
  const v = view();
  const c = new Controller({ companion: api, excel: fake, view: v,
    documentUrl: () => "https://contoso.sharepoint.com/demo.xlsx" });
  await c.command("push");
  assert.equal(fake.book.sheet("ChargePoints").get(2, 2), 41);
  assert.deepEqual(api.calls.map((x) => x.path), ["/api/status", "/api/run/push", "/api/settle"]);
  assert.deepEqual(api.calls[2].body, { run: "r1", applied: true, saved: true });
  assert.equal(fake.book.saved, 1);
  assert.deepEqual(v.shown.results, [{ title: "Push", text: "Push finished.\nChargePoints: 1 created",
    attention: false }]);
  assert.deepEqual(v.shown.busy, ["push", null]);
});

test("a push whose instructions cannot be applied is settled as not applied, so its journal stays", async () => {
  const fake = new FakeExcel(book());
  fake.book.sheet("ChargePoints").protected = true;
  fake.book.sheet("ChargePoints").password = true;
  const api = companion({ "/api/status": STATUS, "/api/run/push": { run: "r2", summary: "", instructions: [
    { op: "values", sheet: "ChargePoints", row: 2, col: 2, values: [[41]] }] }, "/api/settle": {} });
  const v = view();
  await new Controller({ companion: api, excel: fake, view: v }).command("push");
  assert.deepEqual(api.calls.at(-1), { path: "/api/settle", body: { run: "r2", applied: false, saved: false } });
  assert.match(v.shown.errors[0], /protected with a password/);
});

test("push selected sends the selected rows, and nothing when nothing is selected", async () => {
  const fake = new FakeExcel(book());
  fake.book.selection = [{ row: 2, rows: 1 }];
  const api = companion({ "/api/status": STATUS, "/api/run/push_selected": (body) => {
    assert.deepEqual(body.selection, { sheet: "ChargePoints", rows: [2] });
    return { run: "r3", summary: "done", instructions: [] };
  } });
  await new Controller({ companion: api, excel: fake, view: view() }).command("push_selected");
  assert.ok(api.calls.some((x) => x.path === "/api/run/push_selected"));
  fake.book.selection = [];
  const v = view();
  const api2 = companion({ "/api/status": STATUS });
  await new Controller({ companion: api2, excel: fake, view: v }).command("push_selected");
  assert.deepEqual(v.shown.errors, ["Select the rows to push first."]);
  assert.ok(!api2.calls.some((x) => x.path.startsWith("/api/run/")));
});

test("a second button press while a run works is refused, not queued", async () => {
  let release;
  const api = companion({ "/api/status": STATUS, "/api/run/validate": () => new Promise((resolve) => {
    release = () => resolve({ summary: "ok", instructions: [] });
  }) });
  const v = view();
  const c = new Controller({ companion: api, excel: new FakeExcel(book()), view: v });
  const first = c.command("validate");
  while (!release) await new Promise((resolve) => setImmediate(resolve));
  await c.command("push");
  release();
  await first;
  assert.match(v.shown.errors[0], /still working on validate/);
  assert.equal(api.calls.filter((x) => x.path.startsWith("/api/run/")).length, 1);
});

test("the companion's message reaches the task pane as it is (sign-in needed, busy workbook)", async () => {
  const api = companion({ "/api/status": STATUS,
    "/api/run/pull": new CompanionError("Not signed in to sandbox.\n\nUse 'Sign in' on the QaaS tab.", 401, "signin") });
  const v = view();
  await new Controller({ companion: api, excel: new FakeExcel(book()), view: v }).command("pull");
  assert.deepEqual(v.shown.errors, ["Not signed in to sandbox.\n\nUse 'Sign in' on the QaaS tab."]);
});

test("sign-in shows the code, polls without blocking, and refreshes who is signed in when approved", async () => {
  const states = [{ state: "pending", user_code: "ABCD-EFGH", verification_uri: "https://x/devicelogin" },
    { state: "signed_in", username: "demo@x" }];
  const api = companion({ "/api/signin/start": { state: "pending", user_code: "ABCD-EFGH",
    verification_uri: "https://x/devicelogin" }, "/api/signin/status": () => states.shift(),
  "/api/status": { ...STATUS, username: "demo@x" } });
  const v = view();
  const c = new Controller({ companion: api, excel: new FakeExcel(book()), view: v, pollMs: 1 });
  await c.command("sign_in");
  assert.equal(v.shown.signin[0].user_code, "ABCD-EFGH"); // shown before any approval: Excel is not blocked
  while (!v.shown.status.length) await new Promise((resolve) => setTimeout(resolve, 2));
  assert.deepEqual(v.shown.signin.map((s) => s.state), ["pending", "pending", "signed_in"]);
  assert.equal(v.shown.status[0].username, "demo@x");
});

test("new workbook opens the template the companion sends", async () => {
  const fake = new FakeExcel(book());
  const api = companion({ "/api/template": { name: "qaas_template.xlsx", base64: "UEsDBA==" } });
  await new Controller({ companion: api, excel: fake, view: view() }).command("new_workbook");
  assert.deepEqual(fake.created, ["UEsDBA=="]);
});
