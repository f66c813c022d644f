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
import { join } from 'node:path';
import { CHROMIUM_ARGS, blockOtherOrigins, launchContext, recordCspViolations, reportRun, startRun } from './browser.mjs';

const { base, outDir, origin, watchdog, rest: paths } = startRun(
  'pages e2e', 'pages_e2e.mjs BASE_URL OUT_DIR PATH...', 60000, 1);
const report = { externalRequests: [], failedRequests: [], pages: [] };
const { context, close } = await launchContext({
  viewport: { width: 1100, height: 900 },
  args: [...CHROMIUM_ARGS, '--use-gl=swiftshader', '--enable-unsafe-swiftshader'],
});

await reportRun(report, watchdog, async () => {
  await blockOtherOrigins(context, origin, report.externalRequests);
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  let errors = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => report.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
  await recordCspViolations(page);
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
}, close);
