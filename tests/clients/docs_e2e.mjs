// /docs in a real Chromium (playwright-core, the system browser), with every other origin blocked.
//
//   node tests/clients/docs_e2e.mjs BASE_URL OUT_DIR
//
// Opens BASE_URL/docs, waits for Swagger UI to list the operations of the service's OpenAPI
// document, expands one, saves OUT_DIR/docs.png and prints one JSON report on stdout
// (tests/clients/test_docs_browser.py checks it). Requests to any other origin are aborted and
// reported, and so are Content-Security-Policy violations: the page must work offline.
// Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 60000).
import { join } from 'node:path';
import { CHROMIUM_ARGS, blockOtherOrigins, launchContext, recordCspViolations, reportRun, startRun } from './browser.mjs';

const { base, outDir, origin, watchdog } = startRun('docs e2e', 'docs_e2e.mjs BASE_URL OUT_DIR', 60000);
const report = { consoleErrors: [], pageErrors: [], externalRequests: [], failedRequests: [], cspViolations: [], requests: [] };
const { context, close } = await launchContext({ viewport: { width: 1280, height: 1000 }, args: CHROMIUM_ARGS });

await reportRun(report, watchdog, async () => {
  await blockOtherOrigins(context, origin, report.externalRequests, (url) => report.requests.push(url));
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  page.on('console', (m) => { if (m.type() === 'error') report.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => report.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => report.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
  await recordCspViolations(page);

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
}, close);
