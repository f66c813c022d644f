// The planner page and every request it makes, saved for the privacy test (tests/test_privacy.py).
//
//   node tests/clients/privacy_planner.mjs BASE_URL OUT_DIR
//
// Opens BASE_URL/planner in Chromium as an anonymous visitor, lets the map draw (tiles), switches to
// the hexagon mode, runs a selection and downloads every file it offers, in both languages. Every
// response of the service's origin is written to OUT_DIR/responses/NNNN.bin with OUT_DIR/index.json
// (url, status, content type, file); the page's own text to OUT_DIR/page.txt. Prints one JSON
// report. Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 180000).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM_ARGS, WEBGL_ARGS, blockOtherOrigins, launchContext, reportRun, startRun } from './browser.mjs';

const { base, outDir, origin, watchdog } = startRun('privacy planner', 'privacy_planner.mjs BASE_URL OUT_DIR', 180000);
const report = { ok: true, steps: [], externalRequests: [], responses: 0, downloads: [] };
const saved = [];
mkdirSync(join(outDir, 'responses'), { recursive: true });

const { context, close } = await launchContext({
  acceptDownloads: true,
  viewport: { width: 1360, height: 1000 },
  locale: 'id-ID',
  args: [...CHROMIUM_ARGS, ...WEBGL_ARGS],
});

await reportRun(report, watchdog, async () => {
  await blockOtherOrigins(context, origin, report.externalRequests);
  const pending = [];
  context.on('response', (r) => {
    if (!r.url().startsWith(origin)) return;
    pending.push((async () => {
      let body;
      try { body = await r.body(); } catch { return; } // a redirect or an aborted tile has none
      const file = `${String(saved.length).padStart(4, '0')}.bin`;
      saved.push({ url: r.url(), status: r.status(), type: r.headers()['content-type'] ?? '', file });
      writeFileSync(join(outDir, 'responses', file), body);
    })());
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60000);
  await page.goto(`${base}/planner`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]');
  if ((await page.getAttribute('body', 'data-state')) !== 'ready') throw new Error('the planner did not load');
  report.steps.push('loaded');
  if (await page.evaluate(() => !!document.querySelector('#map canvas.maplibregl-canvas'))) {
    await page.waitForSelector('body[data-map="idle"]', { timeout: 90000 });
    if (!(await page.isVisible('#hex-note'))) {
      await page.evaluate(() => { document.body.dataset.map = 'busy'; });
      await page.check('#mode-hex');
      await page.waitForSelector('body[data-map="idle"]', { timeout: 90000 });
    }
    report.steps.push('map');
  }
  for (const lang of ['id', 'en']) {
    if (lang === 'en') await page.click('#lang-toggle');
    await page.click('#run');
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 90000 });
    report.steps.push(`run ${lang}: ${await page.getAttribute('body', 'data-state')}`);
    for (const button of await page.$$('.downloads button[data-format]')) {
      const format = await button.getAttribute('data-format');
      const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
      const path = join(outDir, `download-${lang}.${format}`);
      await download.saveAs(path);
      report.downloads.push(path);
    }
  }
  writeFileSync(join(outDir, 'page.txt'), await page.evaluate(() => document.documentElement.outerHTML));
  await Promise.all(pending);
  report.responses = saved.length;
  writeFileSync(join(outDir, 'index.json'), JSON.stringify(saved, null, 1));
}, close);
