// The planner against issue 14's findings, in a real Chromium, desktop (1366x768) and phone (390x844),
// in Bahasa Indonesia and English. For each numbered finding the page's fixed behaviour is measured
// and reported; tests/clients/test_planner_browser.py asserts on the report.
//
//   node tests/clients/planner_issue14.mjs BASE_URL OUT_DIR
//
// Prints one JSON report: {ok, runs: {"desktop-id": {...}, "desktop-en": ..., "phone-id": ..., "phone-en": ...}}.
// Screenshots go to OUT_DIR/<run>-<step>.png. Env: CHROMIUM, E2E_TIMEOUT_MS.
import { join } from 'node:path';
import { CHROMIUM_ARGS, EXECUTABLE, VIEWPORTS, WEBGL_ARGS, chromium, forEachRun, reportRun, startRun, viewportPage } from './browser.mjs';

const { base, outDir, origin, watchdog } = startRun('planner issue 14 e2e', 'planner_issue14.mjs BASE_URL OUT_DIR', 300000);

// Words that must not appear in the other language's page (item 12).
const FOREIGN = {
  id: ['File ready', 'villages ·', 'Selection rank', 'Run selection', 'Budget used', 'Why chosen', 'Most improved'],
  en: ['Berkas siap', 'desa ·', 'Peringkat seleksi', 'Jalankan seleksi', 'Anggaran terpakai', 'Mengapa terpilih', 'Paling membaik'],
};
const report = { steps: [], runs: {} };

const browser = await chromium.launch({ executablePath: EXECUTABLE, headless: true, args: [...CHROMIUM_ARGS, ...WEBGL_ARGS] });

const box = (page, sel) => page.$eval(sel, (el) => { const r = el.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; }).catch(() => null);
const intersects = (a, b) => !!a && !!b && a.w > 0 && b.w > 0 && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const rowCodes = (page) => page.$$eval('#selected tbody tr[data-code]', (trs) => trs.map((tr) => tr.dataset.code));

async function waitRun(page) {
  await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 90000 });
  return page.getAttribute('body', 'data-state');
}

async function clickRun(page) {
  await page.evaluate(() => { document.body.dataset.state = 'clicked'; });
  await page.click('#run');
  return waitRun(page);
}

async function openSettings(page) {
  if (await page.$eval('#controls', (el) => el.classList.contains('collapsed'))) await page.click('#controls-toggle');
}

async function idle(page) {
  await page.waitForSelector('body[data-map="idle"]', { timeout: 60000 }).catch(() => {});
}

async function shot(page, r, name, full = false) {
  const path = join(outDir, `${r.name}-${name}.png`);
  await page.screenshot({ path, fullPage: full });
  r.screenshots[name] = path;
}

async function oneRun(viewportName, language) {
  const r = { name: `${viewportName}-${language}`, screenshots: {}, consoleErrors: [], pageErrors: [], externalRequests: [], downloads: {}, bodies: [] };
  const { context, page } = await viewportPage(browser, viewportName, language, origin, r);
  page.on('console', (m) => { if (m.type() === 'error') r.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => r.pageErrors.push(String(e)));
  page.on('request', (q) => { if (q.method() === 'POST' && /\/targets(\?|$)/.test(q.url())) r.bodies.push({ url: q.url(), body: JSON.parse(q.postData() ?? '{}') }); });
  const responses = [];
  page.on('response', async (q) => {
    if (q.request().method() === 'POST' && /\/targets(\?lang=\w+)?$/.test(q.url()) && q.ok()) responses.push(await q.json().catch(() => null));
  });
  try {
    await page.goto(`${base}/planner#lang=${language}`);
    await page.waitForSelector('body[data-state="ready"]');
    await idle(page);
    r.lang = await page.getAttribute('html', 'lang');
    r.viewport = VIEWPORTS[viewportName];

    // ---- item 10/11: layout before any run
    r.mapTop = (await box(page, '#map')).y;
    r.controlsTop = (await box(page, '#controls')).y;
    r.controlsCollapsed = await page.$eval('#controls', (el) => el.classList.contains('collapsed'));
    r.legendCollapsed = await page.$eval('#map-overlay', (el) => el.classList.contains('collapsed'));
    r.runBox = await box(page, '#run');
    await openSettings(page);
    r.placeholder = await page.$eval('#max_villages', (el) => {
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = getComputedStyle(el).font;
      const style = getComputedStyle(el);
      const inner = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return { text: el.placeholder, width: ctx.measureText(el.placeholder).width, inner };
    });
    r.objectiveFits = await page.$eval('#objective', (el) => {
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = getComputedStyle(el).font;
      const longest = Math.max(...[...el.options].map((o) => ctx.measureText(o.text).width));
      return { longest, width: el.clientWidth };
    });
    // nested scrolling: no element but the tables' sideways boxes scrolls on its own
    r.nestedScrollers = await page.evaluate(() => [...document.querySelectorAll('body *')].filter((el) => {
      const s = getComputedStyle(el);
      return /(auto|scroll)/.test(s.overflowY) && el.scrollHeight > el.clientHeight + 2 && !el.closest('#map');
    }).map((el) => el.id || el.className));
    await shot(page, r, 'loaded');
    step(`${r.name}: loaded`);

    // ---- items 2 and 3: one default cost model and confidence scenarios, read from the API
    await page.fill('#budget', '4000000000');
    const ranOk = await clickRun(page);
    if (ranOk !== 'done') throw new Error(`first run failed: ${await page.textContent('#error')}`);
    await idle(page);
    r.firstBody = r.bodies.at(-1)?.body;
    r.firstRows = (await rowCodes(page)).length;
    r.firstStatus = (await page.textContent('#status-line')).trim();
    r.runMessage = (await page.textContent('#run-message')).trim();
    r.rankMarkers = await page.$$eval('.rank-marker', (els) => els.length);
    r.rankMarkersInMap = await page.evaluate(() => {
      const m = document.querySelector('#map').getBoundingClientRect();
      return [...document.querySelectorAll('.rank-marker')].filter((el) => {
        const b = el.getBoundingClientRect();
        return b.width > 0 && b.x >= m.x - 1 && b.right <= m.right + 1 && b.y >= m.y - 1 && b.bottom <= m.bottom + 1;
      }).length;
    });
    r.selectedLayerFeatures = await page.evaluate(() => window.sasaranMap?.queryRenderedFeatures({ layers: ['selected-line'] }).length ?? -1);
    // ---- item 9: every chosen village says why
    r.why = await page.$$eval('#selected tbody tr[data-code] td.why', (tds) => tds.map((td) => td.textContent.trim()));
    r.tableScroll = await page.$eval('#selected-scroll', (el) => ({ overflowing: el.classList.contains('overflowing'), cue: getComputedStyle(el.querySelector('.scroll-cue')).display !== 'none', scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, r, 'selection');

    // Run button in view: at the top and at the very bottom of the page (item 11)
    r.runInViewTop = await page.$eval('#run', (el) => { const b = el.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; });
    await page.evaluate(() => window.scrollTo(0, document.body.scrollHeight));
    r.runInViewBottom = await page.$eval('#run', (el) => { const b = el.getBoundingClientRect(); return b.top >= 0 && b.bottom <= innerHeight; });
    await page.evaluate(() => window.scrollTo(0, 0));

    // ---- item 1 (part): a popup and a download link exist, then the inputs change (stale)
    await page.click('#selected tbody tr[data-code]:first-child .village-link');
    await page.waitForSelector('.maplibregl-popup');
    r.popupBefore = (await page.textContent('.maplibregl-popup')).trim();
    // legend and popup never overlap on the phone (the overlay folds while a popup is open)
    if (viewportName === 'phone') {
      r.legendPopupIntersect = intersects(await box(page, '#map-overlay'), await box(page, '.maplibregl-popup-content'));
      await page.$eval('#map', (el) => el.scrollIntoView());
      await shot(page, r, 'popup');
    }
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('.downloads button[data-format="csv"]')]);
    r.downloads.csv = join(outDir, `${r.name}-${dl.suggestedFilename()}`);
    await dl.saveAs(r.downloads.csv);
    r.linksBefore = await page.$$eval('#download-links a', (as) => as.length);

    // ---- item 12: switch language with a popup open and a file ready; nothing of the old language stays
    await page.click('#lang-toggle');
    const other = language === 'id' ? 'en' : 'id';
    r.switched = await page.getAttribute('html', 'lang');
    r.foreignAfterSwitch = await page.evaluate((words) => words.filter((w) => document.body.innerText.includes(w)), FOREIGN[other]);
    r.popupAfterSwitch = (await page.textContent('.maplibregl-popup').catch(() => '')).trim();
    r.statusAfterSwitch = (await page.textContent('#status-line')).trim();
    r.linksLabelAfterSwitch = (await page.textContent('#download-links')).trim();
    await page.click('#lang-toggle');
    r.foreign = await page.evaluate((words) => words.filter((w) => document.body.innerText.includes(w)), FOREIGN[language]);

    await openSettings(page);
    await page.fill('#budget', '3000000000');
    r.staleShown = await page.isVisible('#stale');
    r.staleAttr = await page.getAttribute('body', 'data-stale');
    await page.fill('#budget', '4000000000');
    r.staleAfterUndo = await page.isVisible('#stale');

    // ---- items 1 and 4: a budget below one village: everything of the last run is gone, said in words
    await page.fill('#budget', '50000000');
    await clickRun(page);
    r.tinyRows = (await rowCodes(page)).length;
    r.tinyLinks = await page.$$eval('#download-links a', (as) => as.length);
    r.tinyPopups = await page.$$eval('.maplibregl-popup', (ps) => ps.length);
    r.tinyMarkers = await page.$$eval('.rank-marker', (els) => els.length);
    r.tinyMessage = (await page.textContent('#run-message')).trim();
    r.tinyStatusClass = await page.$eval('#s-status span', (el) => el.className);
    r.tinyTable = (await page.textContent('#selected tbody')).trim();
    r.tinyStatus = responses.at(-1)?.status;
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, r, 'budget-too-small');

    // ---- item 5: two kabupaten only
    await openSettings(page);
    await page.fill('#budget', '4000000000');
    await page.click('#kab-none');
    const kab = await page.$$eval('#kabupaten-list input[type="checkbox"]', (els) => els.map((e) => e.value));
    for (const code of kab.slice(0, 2)) await page.check(`#kabupaten-list input[value="${code}"]`);
    await clickRun(page);
    await idle(page);
    const restricted = responses.at(-1);
    r.allowedKab = kab.slice(0, 2);
    r.kabRows = await page.$$eval('#breakdown tbody tr', (trs) => trs.map((tr) => tr.dataset.code));
    r.belowKab = (restricted?.below_line ?? []).map((b) => b.kabupaten_code);
    r.belowReasons = await page.$$eval('#below-line tbody tr', (trs) => trs.map((tr) => tr.dataset.reason));
    r.excludedNote = (await page.isVisible('#excluded-note')) ? (await page.textContent('#excluded-note')).trim() : '';
    r.excludedLabels = await page.$$eval('.excluded-label', (els) => els.map((e) => e.textContent));
    r.excludedCount = (restricted?.summary?.excluded_kabupaten ?? []).length;
    r.excludedVeiled = await page.evaluate((codes) => codes.filter((c) => window.sasaranMap?.getFeatureState({ source: 'kabupaten', id: c })?.excluded).length,
      (restricted?.summary?.excluded_kabupaten ?? []).map((k) => k.kabupaten_code));
    await page.evaluate(() => window.scrollTo(0, 0));
    await shot(page, r, 'two-kabupaten');

    // ---- item 6: priority, its effect said, and the XLSX about sheet records it
    await openSettings(page);
    await page.click('#kab-all');
    await page.$eval('details.advanced', (d) => { d.open = true; });
    await page.fill('#p_female_headed_hh', '1');
    await page.fill('#p_elderly', '0.5');
    await clickRun(page);
    r.priorityNote = (await page.isVisible('#priority-note')) ? (await page.textContent('#priority-note')).trim() : '';
    r.priorityEffect = responses.at(-1)?.priority_effect ?? null;
    r.priorityBadges = await page.$$eval('#selected .badge', (els) => els.length);
    const [x] = await Promise.all([page.waitForEvent('download'), page.click('.downloads button[data-format="xlsx"]')]);
    r.downloads.xlsx = join(outDir, `${r.name}-${x.suggestedFilename()}`);
    await x.saveAs(r.downloads.xlsx);
    r.downloadUrls = r.bodies.filter((b) => /f=/.test(b.url)).map((b) => b.url.replace(origin, ''));

    // ---- shareable: the URL reproduces the same selection in a fresh page
    r.shareUrl = page.url();
    const selectedHere = await rowCodes(page);
    const fresh = await context.newPage();
    await fresh.goto(r.shareUrl);
    await fresh.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 90000 });
    r.sharedSame = JSON.stringify(await rowCodes(fresh)) === JSON.stringify(selectedHere) && selectedHere.length > 0;
    r.sharedLang = await fresh.getAttribute('html', 'lang');
    await fresh.close();

    // ---- item 7: year on year, table and map
    await page.$eval('#changes', (el) => el.scrollIntoView());
    await page.waitForSelector('#changes-table tbody tr');
    r.changesTitle = (await page.textContent('#changes-title')).trim();
    r.changesKabRows = await page.$$eval('#changes-table tbody tr', (trs) => trs.length);
    r.improved = await page.$$eval('#most-improved li', (lis) => lis.map((li) => li.textContent));
    r.worsened = await page.$$eval('#most-worsened li', (lis) => lis.map((li) => li.textContent));
    await shot(page, r, 'changes');
    await page.selectOption('#changes-level', 'village');
    await page.waitForFunction((n) => document.querySelectorAll('#changes-table tbody tr').length > n, r.changesKabRows);
    r.changesVillageRows = await page.$$eval('#changes-table tbody tr', (trs) => trs.length);
    await page.evaluate(() => window.scrollTo(0, 0));
    if (r.legendCollapsed) await page.click('#legend-toggle');
    await page.check('#mode-change');
    await page.waitForFunction(() => document.querySelector('#legend h3')?.textContent.includes('→'));
    await idle(page);
    r.changeLegend = (await page.textContent('#legend')).trim();
    await page.$eval('#map', (el) => el.scrollIntoView());
    await shot(page, r, 'map-change');

    // ---- item 11: hexagons inside the province (map mode "hex")
    await page.check('#mode-hex');
    // back to the whole province (the popup above zoomed to one village)
    await page.evaluate(async () => {
      document.body.dataset.map = 'busy';
      const tj = await (await fetch('collections/hexagons/tiles/WebMercatorQuad/tilejson.json')).json();
      window.sasaranMap.fitBounds(tj.bounds, { duration: 0, padding: 20 });
    });
    await page.waitForTimeout(300);
    await idle(page);
    r.hexInside = await page.evaluate(() => {
      const map = window.sasaranMap;
      if (!map) return -1;
      const c = map.getCanvas();
      const { width, height } = c.getBoundingClientRect();
      return map.queryRenderedFeatures([[width * 0.35, height * 0.35], [width * 0.65, height * 0.65]], { layers: ['hexagons-fill'] }).filter((f) => f.properties.score != null).length;
    });
    await shot(page, r, 'map-hex');
    report.runs[r.name] = r;
    r.ok = true;
  } catch (err) {
    r.ok = false;
    r.error = String(err?.stack ?? err);
    report.runs[r.name] = r;
    await shot(page, r, 'failure').catch(() => {});
  } finally {
    await context.close();
  }
}

function step(name) {
  report.steps.push(name);
}

await reportRun(report, watchdog, async () => {
  await forEachRun(oneRun);
  report.ok = Object.values(report.runs).every((r) => r.ok);
}, () => browser.close());
