// End-to-end run of the planner page in a real Chromium (driven by playwright-core, no browser download).
//
//   node tests/clients/planner_e2e.mjs BASE_URL OUT_DIR
//
// Opens BASE_URL/planner, changes the budget, runs a selection, downloads CSV/XLSX/GPKG into OUT_DIR,
// saves OUT_DIR/planner.png and prints one JSON report on stdout (tests/clients/test_planner_browser.py
// checks it). Any request to another origin is blocked and reported: the page must be self-contained.
// Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 120000).
import { join } from 'node:path';
import { CHROMIUM_ARGS, WEBGL_ARGS, blockOtherOrigins, launchContext, reportRun, startRun } from './browser.mjs';

const { base, outDir, origin, watchdog } = startRun('planner e2e', 'planner_e2e.mjs BASE_URL OUT_DIR', 120000);
const report = { steps: [], consoleErrors: [], pageErrors: [], externalRequests: [], failedRequests: [], downloads: {} };
const step = (name) => report.steps.push(name);

const { context, close } = await launchContext({
  acceptDownloads: true,
  viewport: { width: 1360, height: 1150 },
  locale: 'id-ID',
  args: [...CHROMIUM_ARGS, ...WEBGL_ARGS],
});

await reportRun(report, watchdog, async () => {
  await blockOtherOrigins(context, origin, report.externalRequests);
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(30000);
  let expectErrors = false; // from step 8 on, the page is made to fail on purpose
  page.on('console', (m) => { if (m.type() === 'error' && !expectErrors) report.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => report.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => {
    // Tiles the map no longer needs are cancelled (net::ERR_ABORTED): not a failure.
    if (r.url().startsWith(origin) && r.failure()?.errorText !== 'net::ERR_ABORTED') report.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`);
  });
  let tileResponses = 0;
  page.on('response', (r) => { if (/\/tiles\/WebMercatorQuad\/\d+\/\d+\/\d+/.test(r.url()) && r.status() === 200) tileResponses++; });

  // 1. The page loads in Bahasa Indonesia, with the synthetic-data banner.
  await page.goto(`${base}/planner`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]');
  report.loadState = await page.getAttribute('body', 'data-state');
  if (report.loadState !== 'ready') throw new Error(`page did not load: ${await page.textContent('#error')}`);
  report.lang = await page.getAttribute('html', 'lang');
  report.title = (await page.textContent('h1')).trim();
  report.bannerVisible = await page.isVisible('#synthetic-banner');
  report.bannerText = (await page.textContent('#synthetic-banner')).trim();
  report.years = await page.$$eval('#year option', (os) => os.map((o) => o.value));
  report.kabupaten = await page.$$eval('#kabupaten-list input', (els) => els.map((e) => e.value));
  step('loaded');

  // 2. The map draws (WebGL) and the hexagon tiles answer.
  report.webgl = await page.evaluate(() => !!document.querySelector('#map canvas.maplibregl-canvas'));
  if (report.webgl) await page.waitForSelector('body[data-map="idle"]', { timeout: 60000 });
  report.hexLayer = !(await page.isVisible('#hex-note'));
  if (report.hexLayer) { // hexagon tiles are drawn (and fetched) in the "hex" map mode
    await page.evaluate(() => { document.body.dataset.map = 'busy'; });
    await page.check('#mode-hex');
    await page.waitForSelector('body[data-map="idle"]', { timeout: 60000 });
    await page.check('input[name="map-mode"][value="m0"]');
  }
  step('map');

  // 3. Change the budget with the keyboard-usable form, and a weight slider.
  await page.fill('#budget', '4000000000');
  report.budgetEcho = (await page.textContent('#budget-fmt')).trim();
  await page.focus('#w_health');
  for (let i = 0; i < 10; i++) await page.keyboard.press('ArrowRight');
  report.weightOutputs = await page.$$eval('#weights output', (os) => os.map((o) => o.textContent.trim()));
  step('controls');

  // 4. Run a selection; the ranked table and the summary fill.
  await page.click('#run');
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 60000 });
  if ((await page.getAttribute('body', 'data-state')) !== 'done') throw new Error(`selection failed: ${await page.textContent('#error')}`);
  report.rows = await page.$$eval('#selected tbody tr[data-code]', (trs) => trs.length);
  report.firstRow = await page.$$eval('#selected tbody tr[data-code]:first-child > *', (cells) => cells.map((c) => c.textContent.trim()));
  report.summaryVisible = await page.isVisible('#summary');
  report.summary = Object.fromEntries(
    await page.$$eval('#summary .card', (cards) => cards.map((c) => [c.querySelector('dt').textContent.trim(), c.querySelector('dd').textContent.trim()])),
  );
  report.headers = await page.$$eval('#selected thead th', (ths) => ths.map((th) => [th.getAttribute('scope'), th.textContent.trim()]));
  step('selection');

  // 5. Downloads: fetch -> Blob -> link with a filename.
  for (const format of ['csv', 'xlsx', 'gpkg']) {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click(`.downloads button[data-format="${format}"]`)]);
    const path = join(outDir, dl.suggestedFilename());
    await dl.saveAs(path);
    report.downloads[format] = path;
  }
  step('downloads');

  // 5b. The English toggle, then back to Bahasa Indonesia for the screenshot.
  await page.click('#lang-toggle');
  report.titleEn = (await page.textContent('h1')).trim();
  report.langEn = await page.getAttribute('html', 'lang');
  report.budgetEchoEn = (await page.textContent('#budget-fmt')).trim();
  await page.click('#lang-toggle');
  step('language');

  // 6. The screenshot for docs/planner.md: whole province, selection outlined, top of the page.
  await page.evaluate(() => window.scrollTo(0, 0));
  if (report.webgl) await page.waitForSelector('body[data-map="idle"]', { timeout: 60000 });
  report.tileResponses = tileResponses;
  report.screenshot = join(outDir, 'planner.png');
  await page.screenshot({ path: report.screenshot });
  step('screenshot');

  // 7. Clicking a village in the table zooms the map to it.
  await page.click('#selected tbody tr[data-code]:first-child .village-link');
  report.activeRow = await page.$eval('#selected tbody tr.active', (tr) => tr.dataset.code).catch(() => null);
  step('zoom');
  expectErrors = true;

  // 8. Errors: the page's own check (budget 0), and the service's problem+json detail shown inline.
  await page.fill('#budget', '0');
  await page.click('#run');
  report.clientError = (await page.textContent('#error')).trim();
  await page.fill('#budget', '4000000000');
  // a quota no kabupaten can meet: the service answers 400 problem+json, in the page's language
  const kab = await page.$eval('#kabupaten-list .quota-row', (row) => row.dataset.code);
  await page.fill(`#kabupaten-list .quota-row[data-code="${kab}"] input[data-quota="min"]`, '999');
  await page.click('#run');
  await page.waitForSelector('body[data-state="error"]');
  report.problemError = (await page.textContent('#error')).trim();
  step('errors');
  report.ok = true;
}, close);
