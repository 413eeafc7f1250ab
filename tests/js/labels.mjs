// A post campaign's address labels in Debian's headless chromium, printed as the user would:
// every label lies inside its A4 sheet, and the PDF has one page per sheet.
// Usage: node labels.mjs <base-url> <token> <campaign-id>. Prints `ok: <labels> labels on <pages> pages`.
import { offlinePage } from "./browser.mjs";

const [base, token, campaign] = process.argv.slice(2);
const { browser, page, fail, checkClean } = await offlinePage(base);
try {
  await page.setExtraHTTPHeaders({ Authorization: `Bearer ${token}` });
  const res = await page.goto(`${base}/api/v1/campaigns/${campaign}/mailing/labels`, { waitUntil: "load" });
  if (res.status() !== 200) await fail(`the labels answered ${res.status()}`);
  await page.emulateMedia({ media: "print" });
  const layout = await page.evaluate(() => {
    const mm = (px) => (px * 25.4) / 96;
    const sheets = [...document.querySelectorAll(".sheet")];
    const outside = [];
    let labels = 0;
    for (const sheet of sheets) {
      const s = sheet.getBoundingClientRect();
      for (const label of sheet.querySelectorAll(".label")) {
        labels += 1;
        const l = label.getBoundingClientRect();
        const inside = l.left >= s.left - 0.5 && l.right <= s.right + 0.5 && l.top >= s.top - 0.5 && l.bottom <= s.bottom + 0.5;
        if (!inside) outside.push(label.dataset.contact);
      }
    }
    const first = sheets[0].getBoundingClientRect();
    const label = document.querySelector(".label").getBoundingClientRect();
    return { sheets: sheets.length, labels, outside, sheetMm: [mm(first.width), mm(first.height)], labelMm: [mm(label.width), mm(label.height)] };
  });
  if (layout.outside.length) await fail(`labels outside their sheet: ${layout.outside.join(", ")}`);
  const near = (a, b) => Math.abs(a - b) < 0.5;
  if (!near(layout.sheetMm[0], 210) || !near(layout.sheetMm[1], 297)) await fail(`a sheet is ${layout.sheetMm} mm, not A4`);
  if (!near(layout.labelMm[0], 63.5) || !near(layout.labelMm[1], 38.1)) await fail(`a label is ${layout.labelMm} mm`);
  const pdf = await page.pdf({ preferCSSPageSize: true, printBackground: false });
  const pages = (pdf.toString("latin1").match(/\/Type\s*\/Page[^s]/g) || []).length;
  if (pages !== layout.sheets) await fail(`${layout.sheets} sheets printed on ${pages} pages`);
  await checkClean();
  console.log(`ok: ${layout.labels} labels on ${pages} pages`);
  await browser.close();
} catch (e) {
  await fail(e.stack || String(e));
}
