// /docs in a real Chromium (playwright-core, the system browser), with every other origin blocked.
//
//   node tests/clients/docs_e2e.mjs BASE_URL OUT_DIR
//
// Opens BASE_URL/docs, waits for Swagger UI to list the operations of the service's OpenAPI
// document, expands one, saves OUT_DIR/docs.png and prints one JSON report on stdout
// (tests/clients/test_docs_browser.py checks it). Requests to any other origin are aborted and
// reported, and so are Content-Security-Policy violations: the page must work offline.
// Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 60000).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('./node/', import.meta.url));
const { chromium } = require('playwright-core');

const [base, outDir] = process.argv.slice(2);
if (!base || !outDir) {
  console.error('usage: node docs_e2e.mjs BASE_URL OUT_DIR');
  process.exit(2);
}
const origin = new URL(base).origin;
const timeout = Number(process.env.E2E_TIMEOUT_MS ?? 60000);
const watchdog = setTimeout(() => {
  console.error(`docs e2e: gave up after ${timeout} ms`);
  process.exit(3);
}, timeout);

const report = { consoleErrors: [], pageErrors: [], externalRequests: [], failedRequests: [], cspViolations: [], requests: [] };
const profile = mkdtempSync(join(tmpdir(), 'sasaran-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 1000 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
    '--disable-component-update', '--disable-sync'],
});

try {
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) {
      report.requests.push(url);
      return route.continue();
    }
    report.externalRequests.push(url);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  page.on('console', (m) => { if (m.type() === 'error') report.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => report.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => report.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
  // CSP violations reach the page as events; the console message alone is easy to miss.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });

  const response = await page.goto(`${base}/docs`);
  report.status = response.status();
  report.csp = response.headers()['content-security-policy'] ?? null;
  report.nosniff = response.headers()['x-content-type-options'] ?? null;
  await page.waitForSelector('.swagger-ui .opblock-summary');
  report.title = (await page.textContent('.swagger-ui .info .title'))?.trim();
  report.operations = await page.$$eval('.swagger-ui .opblock-summary-path', (els) => els.map((e) => e.textContent.trim()));
  // Open one operation: its parameters render from the document, no request is needed.
  await page.click('.swagger-ui .opblock-summary >> nth=0');
  await page.waitForSelector('.swagger-ui .opblock.is-open');
  report.opened = true;
  report.cspViolations = await page.evaluate(() => window.__csp ?? []);
  report.screenshot = join(outDir, 'docs.png');
  await page.screenshot({ path: report.screenshot });
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
