// Swagger UI (`/docs/`) in Debian's headless chromium, under the server's content security
// policy: the page loads with nothing from outside the server and nothing the policy refuses,
// reads the OpenAPI document, and lists the operations. Usage: node swagger.mjs <base-url>.
import { offlinePage } from "./browser.mjs";

const [base] = process.argv.slice(2);
const { browser, page, fail, checkClean } = await offlinePage(base);
try {
  const response = await page.goto(`${base}/docs/`, { waitUntil: "load" });
  const csp = response.headers()["content-security-policy"] || "";
  if (!csp.includes("script-src 'self'")) await fail(`no script policy on the page: ${csp}`);
  // The document's title, then an operation of the contacts tag. Swagger UI takes about 20 s to
  // render the 3 MB document in headless chromium on 2 idle cores: the waits leave room for a
  // machine busy with the other tests (the outer limit is 120 s).
  await page.locator(".swagger-ui .info .title").first().waitFor({ timeout: 60000 });
  await page.locator(".opblock-summary-path", { hasText: "/api/v1/contacts" }).first().waitFor({ timeout: 60000 });
  const operations = await page.locator(".opblock").count();
  if (operations < 50) await fail(`only ${operations} operations shown`);
  await checkClean();
  console.log(`ok: Swagger UI shows ${operations} operations`);
  await browser.close();
} catch (e) {
  await fail(e.stack || String(e));
}
