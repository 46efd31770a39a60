// The task pane in real headless Chromium, loaded from the companion, with the fake Excel in place of office.js:
// sign in (the sandbox's device login page, in a second tab), Validate, Push, see the results; a screenshot.
// Run by tests/office/test_taskpane_browser.py, which starts the sandbox and the companion and checks the service.
import { readFileSync } from "node:fs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const origin = env("COMPANION_ORIGIN");
const fakeSource = readFileSync(env("FAKE_EXCEL_JS"), "utf-8");
const workbook = JSON.parse(readFileSync(env("WORKBOOK_JSON"), "utf-8"));
const profile = mkdtempSync(join(tmpdir(), "qaas-chromium-"));

// office.js comes from Microsoft's CDN in Excel; here the fake answers in its place, holding the workbook.
const officeStub = `${fakeSource}
(() => {
  const { Book, FakeExcel } = globalThis.QaasFake;
  const data = ${JSON.stringify(workbook)};
  const book = new Book(data.name);
  for (const sheet of data.sheets) {
    const rows = sheet.rows.map((line) => line.map((v) => (v && typeof v === "object" && v.$date ? new Date(v.$date) : v)));
    Book.fromRows(book, sheet.name, rows);
  }
  book.active = data.active;
  new FakeExcel(book).install(globalThis, { url: data.url });
})();`;

const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 420, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
    // real TLS: exactly the companion's and the sandbox's keys are accepted, nothing else
    `--ignore-certificate-errors-spki-list=${env("SPKI_LIST")}`],
});
const steps = [];
try {
  await context.route("**/*", (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === "appsforoffice.microsoft.com") {
      return route.fulfill({ status: 200, contentType: "text/javascript", body: officeStub });
    }
    if (url.hostname === "localhost" || url.hostname === "127.0.0.1") return route.continue();
    return route.abort(); // no other network: a page that needed it would fail here
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") problems.push(message.text()); });

  await page.goto(`${origin}/taskpane.html`);
  await page.waitForSelector("#who[data-state=signed-out]");
  await page.waitForSelector("#cmd-validate");
  steps.push({ step: "loaded", who: await page.textContent("#who"), env: await page.inputValue("#env") });

  await page.click("#cmd-sign_in");
  await page.waitForFunction(() => (document.getElementById("code")?.textContent ?? "").length > 0);
  const code = await page.textContent("#code");
  const link = await page.getAttribute("#link", "href");
  steps.push({ step: "code shown", code, link, copyVisible: await page.isVisible("#copy") });

  const login = await context.newPage();
  await login.goto(link);
  await login.fill("input[name=user_code]", code);
  await login.click("button[value=approve]");
  await login.waitForSelector("text=approved");
  await login.close();

  await page.waitForSelector("#who[data-state=signed-in]", { timeout: 30000 });
  steps.push({ step: "signed in", who: await page.textContent("#who") });

  await page.click("#cmd-validate");
  await page.waitForFunction(() => document.getElementById("result-title")?.textContent === "Validate");
  steps.push({ step: "validated", text: await page.textContent("#result-text"),
    kind: await page.getAttribute("#result", "data-kind") });

  await page.click("#cmd-push");
  await page.waitForFunction(() => document.getElementById("result-title")?.textContent === "Push", null,
    { timeout: 60000 });
  const ids = await page.evaluate(() => {
    const sheet = globalThis.QaasOffice.fake.book.sheet("ChargePoints");
    const out = [];
    for (const [k, v] of sheet.cells) {
      const [r, c] = k.split(",").map(Number);
      if (r > 1 && sheet.get(1, c) === "QaaS ID") out.push(v);
    }
    return out;
  });
  steps.push({ step: "pushed", text: await page.textContent("#result-text"), ids,
    saved: await page.evaluate(() => globalThis.QaasOffice.fake.book.saved) });
  await page.screenshot({ path: env("SCREENSHOT"), fullPage: true });
  steps.push({ step: "problems", problems });
  console.log(JSON.stringify(steps));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
