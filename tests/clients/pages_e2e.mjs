// The HTML pages of the OGC API resources in a real Chromium (playwright-core, the system browser),
// with every other origin blocked.
//
//   node tests/clients/pages_e2e.mjs BASE_URL OUT_DIR PATH...
//
// Opens each BASE_URL + PATH as a browser would (Accept: text/html, no f parameter), waits for the
// page's map to draw its features where it has one, saves OUT_DIR/<n>.png and prints one JSON report
// on stdout (tests/clients/test_pages_browser.py checks it). Requests to any other origin are aborted
// and reported, and so are Content-Security-Policy violations: the pages must work offline.
// Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 60000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('./node/', import.meta.url));
const { chromium } = require('playwright-core');

const [base, outDir, ...paths] = process.argv.slice(2);
if (!base || !outDir || !paths.length) {
  console.error('usage: node pages_e2e.mjs BASE_URL OUT_DIR PATH...');
  process.exit(2);
}
const origin = new URL(base).origin;
const timeout = Number(process.env.E2E_TIMEOUT_MS ?? 60000);
const watchdog = setTimeout(() => {
  console.error(`pages e2e: gave up after ${timeout} ms`);
  process.exit(3);
}, timeout);

const report = { externalRequests: [], failedRequests: [], pages: [] };
const profile = mkdtempSync(join(tmpdir(), 'sasaran-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1100, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--use-gl=swiftshader', '--enable-unsafe-swiftshader',
    '--disable-background-networking', '--no-first-run', '--disable-component-update', '--disable-sync'],
});

try {
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    report.externalRequests.push(url);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  let errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => report.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  for (const [i, path] of paths.entries()) {
    errors = [];
    const response = await page.goto(`${base}${path}`);
    const entry = {
      path,
      status: response.status(),
      contentType: response.headers()['content-type'] ?? null,
      csp: response.headers()['content-security-policy'] ?? null,
    };
    entry.title = await page.title();
    entry.h1 = (await page.textContent('h1'))?.trim() ?? null;
    const map = await page.$('#map');
    if (map) {
      await page.waitForFunction(() => {
        const el = document.getElementById('map');
        return el && (el.dataset.loaded || el.dataset.error);
      });
      entry.mapFeatures = Number(await map.getAttribute('data-loaded'));
      entry.mapError = await map.getAttribute('data-error');
      await page.waitForTimeout(500); // let the last frame paint
    }
    entry.rows = await page.$$eval('table tbody tr', (rows) => rows.length);
    entry.cspViolations = await page.evaluate(() => window.__csp ?? []);
    entry.screenshot = join(outDir, `page-${i}.png`);
    await page.screenshot({ path: entry.screenshot });
    entry.errors = errors;
    report.pages.push(entry);
  }
  report.ok = true;
} catch (err) {
  report.ok = false;
  report.error = String(err?.stack ?? err);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
  clearTimeout(watchdog);
}
console.log(JSON.stringify(report, null, 1));
process.exit(report.ok ? 0 : 1);
