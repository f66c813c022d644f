// scratch: screenshots of the planner (not committed)
import { CHROMIUM_ARGS, EXECUTABLE, WEBGL_ARGS, chromium } from './browser.mjs';
const [base, out, hash = ''] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: EXECUTABLE, headless: true, args: [...CHROMIUM_ARGS, ...WEBGL_ARGS] });
for (const [name, vp] of [['desktop', { width: 1366, height: 768 }], ['phone', { width: 390, height: 844 }]]) {
  const ctx = await browser.newContext({ viewport: vp, isMobile: name === 'phone', hasTouch: name === 'phone' });
  const page = await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  await page.goto(`${base}/planner#${hash}`);
  await page.waitForSelector('body[data-state="done"], body[data-state="error"], body[data-state="ready"]', { timeout: 120000 });
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 120000 }).catch(() => {});
  await page.waitForTimeout(1500);
  const wide = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, vw: innerWidth,
    culprits: [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > innerWidth + 1 && !el.closest('.table-scroll') && !el.closest('#map')).slice(0, 8).map((el) => `${el.tagName}#${el.id}.${el.className} ${Math.round(el.getBoundingClientRect().right)}`),
    table: (() => { const b = document.querySelector('#selected-scroll'); return b ? [b.scrollWidth, b.clientWidth] : null; })() }));
  console.log(name, JSON.stringify(wide), errors.slice(0, 5), await page.textContent('#error'));
  await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
  await ctx.close();
}
await browser.close();
