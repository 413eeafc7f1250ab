// What both browser checks share: Debian's headless chromium, a page that may not reach
// anything outside the server (offline), and a record of what went wrong on it (script errors,
// and anything the server's content security policy refused).
import { chromium } from "playwright-core";

export async function offlinePage(base) {
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
  const context = await browser.newContext();
  const offsite = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:")) return route.continue();
    offsite.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) problems.push(m.text());
  });
  // Fails unless the page stayed offline and nothing went wrong on it.
  const checkClean = async () => {
    if (offsite.length) await fail(`requests left the server: ${offsite.join(", ")}`);
    if (problems.length) await fail(`page errors: ${problems.join("; ")}`);
  };
  return { browser, page, fail, checkClean };
}
