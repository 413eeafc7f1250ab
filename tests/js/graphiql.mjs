// GraphiQL in Debian's headless chromium: the page loads with nothing from outside the server,
// the schema loads into the docs explorer, and a query typed in the editor with the token typed
// in the Headers tab returns data. Usage: node graphiql.mjs <base-url> <token> <expected-text>.
import { chromium } from "playwright-core";

const [base, token, expected] = process.argv.slice(2);
const origin = new URL(base).origin;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const fail = async (msg) => {
  console.error(`FAIL: ${msg}`);
  await browser.close();
  process.exit(1);
};
try {
  const context = await browser.newContext();
  const offsite = [];
  // Any request leaving the server fails the test: the page must work offline.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:")) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  const query = `{ accounts(first: 5, where: {name: {startsWith: "Browser"}}) { nodes { name tier } } }`;
  await page.goto(`${base}/graphql?query=${encodeURIComponent(query)}`, { waitUntil: "load" });
  await page.waitForSelector(".graphiql-container", { timeout: 20000 });

  // The token, typed into the Headers tab's editor.
  await page.getByRole("button", { name: /^headers$/i }).click();
  const headers = page.locator(".graphiql-editor-tool .graphiql-editor").last();
  await headers.locator(".CodeMirror").click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));

  // Run the query in the editor and read the result pane.
  await page.locator(".graphiql-execute-button").click();
  const result = page.locator(".result-window");
  await result.getByText(expected).first().waitFor({ timeout: 20000 });
  const text = await result.innerText();
  if (!text.includes('"data"')) await fail(`the result has no data: ${text}`);

  // Now the schema loads (completion, docs) with the token: as a user would, re-fetch it.
  await page.getByRole("button", { name: "Re-fetch GraphQL schema" }).click();
  // The docs explorer reads the schema: the root query type, then a generated filter type.
  await page.getByRole("button", { name: "Show Documentation Explorer" }).click();
  const docs = page.locator(".graphiql-doc-explorer");
  await docs.getByText("Query", { exact: true }).first().click({ timeout: 20000 });
  await docs.getByText("accounts", { exact: true }).first().click({ timeout: 20000 });
  await docs.getByText("AccountWhere").first().waitFor({ timeout: 20000 });

  if (offsite.length) await fail(`requests left the server: ${offsite.join(", ")}`);
  if (pageErrors.length) await fail(`page errors: ${pageErrors.join("; ")}`);
  console.log(`ok: GraphiQL ran the query; result ${text.replace(/\s+/g, " ").slice(0, 200)}`);
  await browser.close();
} catch (e) {
  await fail(e.stack || String(e));
}
