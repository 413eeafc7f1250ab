// GraphiQL in Debian's headless chromium: the page loads with nothing from outside the server,
// the schema loads into the docs explorer, and a query typed in the editor with the token typed
// in the Headers tab returns data. Usage: node graphiql.mjs <base-url> <token> <expected-text>.
import { offlinePage } from "./browser.mjs";

const [base, token, expected] = process.argv.slice(2);
const { browser, page, fail, checkClean } = await offlinePage(base);
try {
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

  await checkClean();
  console.log(`ok: GraphiQL ran the query; result ${text.replace(/\s+/g, " ").slice(0, 200)}`);
  await browser.close();
} catch (e) {
  await fail(e.stack || String(e));
}
