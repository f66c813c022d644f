// The verification pages in a real Chromium: a desa operator on a phone (390 px, a slow
// connection) and a kabupaten data officer on the progress page.
//
//   node tests/clients/verification_e2e.mjs BASE_URL OUT_DIR DESA KABUPATEN PASSWORD
//
// Prints one JSON report (tests/clients/test_verification_browser.py checks it); screenshots in
// OUT_DIR. Requests to any other origin are aborted and reported, and so are CSP violations.
// Env: CHROMIUM (default /usr/bin/chromium), E2E_TIMEOUT_MS (default 170000).
import { join } from 'node:path';
import { CHROMIUM_ARGS, WEBGL_ARGS, blockOtherOrigins, launchContext, recordCspViolations, reportRun, startRun } from './browser.mjs';

const { base, outDir, origin, watchdog, rest } = startRun(
  'verification e2e', 'verification_e2e.mjs BASE_URL OUT_DIR DESA KABUPATEN PASSWORD', 170000, 3);
const [desa, kabupaten, password] = rest;
const report = { externalRequests: [], failedRequests: [], consoleErrors: [], pageErrors: [], errorResponses: [], screenshots: {} };
const { context, close } = await launchContext({
  viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1,
  args: [...CHROMIUM_ARGS, ...WEBGL_ARGS],
});

function watch(page) {
  page.setDefaultTimeout(60000);
  page.on('console', (m) => { if (m.type() === 'error') report.consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => report.pageErrors.push(String(e)));
  page.on('requestfailed', (r) => report.failedRequests.push(`${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) report.errorResponses.push(`${r.status()} ${new URL(r.url()).pathname}`); });
}

async function shot(page, name) {
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path, fullPage: false });
  report.screenshots[name] = path;
}

async function signIn(page, name) {
  await page.waitForSelector('#signin:not([hidden])');
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('#signin button[type=submit]');
}

await reportRun(report, watchdog, async () => {
  await blockOtherOrigins(context, origin, report.externalRequests);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  await recordCspViolations(page);
  // A slow connection: 400 kbit/s down, 200 up, 300 ms round trip (a village office on 3G).
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false, latency: 300, downloadThroughput: 50 * 1024, uploadThroughput: 25 * 1024,
  });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });

  const started = Date.now();
  await page.goto(`${base}/verification`);
  await page.waitForSelector('#signin:not([hidden])');
  report.signinLang = await page.evaluate(() => document.documentElement.lang);
  report.signinHeading = (await page.textContent('#signin h2')).trim();
  await shot(page, 'phone-signin');
  await page.fill('#name', desa);
  await page.fill('#password', 'wrong-password-1');
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#signin-error:not([hidden])');
  report.wrongPassword = (await page.textContent('#signin-error')).trim();
  await page.fill('#password', password);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#families li.family');
  report.firstListMs = Date.now() - started;
  report.bytesToFirstList = bytes;
  report.cards = await page.$$eval('#families li.family', (cards) => cards.length);
  report.pageOf = (await page.textContent('#page-of')).trim();
  report.villageName = (await page.textContent('#village-name')).trim();
  report.countBefore = (await page.textContent('#village-count')).trim();
  report.syntheticBanner = await page.isVisible('#synthetic');
  report.horizontalOverflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  report.tapHeights = await page.$$eval('#families .actions button', (b) => b.map((x) => x.getBoundingClientRect().height));
  await shot(page, 'phone-list');

  // One tap: the first family is found and correct.
  const first = page.locator('#families li.family').first();
  report.firstName = (await first.locator('h3').textContent()).trim();
  await first.locator('button.valid').click();
  await page.waitForSelector('#flash:not([hidden])');
  report.flashAfterTap = (await page.textContent('#flash')).trim();
  report.firstDone = await page.locator('#families li.family').first().evaluate((n) => n.classList.contains('done'));
  await page.waitForFunction((before) => document.getElementById('village-count').textContent.trim() !== before, report.countBefore);
  report.countAfter = (await page.textContent('#village-count')).trim();

  // Another status needs a reason: refused without one, saved with a suggested one.
  const second = page.locator('#families li.family').nth(1);
  await second.locator('.actions button').nth(1).click();
  await second.locator('.statuses button', { hasText: 'Meninggal' }).click();
  await second.locator('.more button.primary').click();
  report.reasonNeeded = (await page.textContent('#flash')).trim();
  await second.locator('.reasons button').first().click();
  await second.locator('.more button.primary').click();
  await page.waitForFunction(() => document.querySelectorAll('#families li.family')[1]?.querySelector('.badge')?.textContent.includes('Meninggal'));
  report.secondBadge = (await page.locator('#families li.family').nth(1).locator('.badge').textContent()).trim();
  await shot(page, 'phone-after-taps');

  // Search by name, then page 2.
  const surname = report.firstName.split(' ').slice(-1)[0];
  await page.fill('#search', surname.toLowerCase());
  await page.waitForFunction((s) => [...document.querySelectorAll('#families li.family h3')].every((h) => h.textContent.includes(s)) && document.querySelectorAll('#families li.family').length > 0, surname);
  report.searchCards = await page.$$eval('#families li.family', (cards) => cards.length);
  report.searchPageOf = (await page.textContent('#page-of')).trim();
  await page.fill('#search', '');
  await page.waitForFunction((all) => document.getElementById('page-of').textContent.trim() === all, report.pageOf);
  await page.click('#next');
  await page.waitForFunction(() => document.getElementById('page-of').textContent.startsWith('Halaman 2'));
  report.pageTwo = (await page.textContent('#page-of')).trim();
  await page.click('.chip[data-filter=belum]');
  await page.waitForFunction(() => document.getElementById('page-of').textContent.startsWith('Halaman 1'));
  report.todoBadges = await page.$$eval('#families li.family .badge', (b) => [...new Set(b.map((x) => x.textContent.trim()))]);

  // English, then back.
  await page.click('#lang');
  report.titleEn = (await page.textContent('h1')).trim();
  report.validEn = (await page.locator('#families button.valid').first().textContent()).trim();
  report.langEn = await page.evaluate(() => document.documentElement.lang);
  await shot(page, 'phone-english');
  await page.click('#lang');
  report.titleId = (await page.textContent('h1')).trim();
  report.cspPhone = await page.evaluate(() => window.__csp ?? []);

  // The kabupaten officer: progress page on a desktop screen, and on the phone.
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.click('#signout');
  await signIn(page, kabupaten);
  await page.waitForSelector('#village-list:not([hidden]) #villages li');
  report.kabVillages = await page.$$eval('#villages li', (l) => l.length);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.goto(`${base}/verification/dashboard`);
  await page.waitForSelector('#content:not([hidden])');
  await page.waitForFunction(() => document.body.dataset.map === 'idle', null, { timeout: 90000 });
  report.dashboard = {
    totals: (await page.textContent('#totals')).trim(),
    kabupatenRows: await page.$$eval('#by-kabupaten tbody tr', (r) => r.length),
    kecamatanRows: await page.$$eval('#by-kecamatan tbody tr', (r) => r.length),
    waitingRows: await page.$$eval('#waiting tbody tr', (r) => r.length),
    finalLinks: await page.$$eval('#by-kabupaten a', (a) => a.map((x) => x.getAttribute('href'))),
    features: await page.evaluate(() => window.sasaranMap.querySourceFeatures('villages').length),
    coloured: await page.evaluate(() => {
      const map = window.sasaranMap;
      return map.queryRenderedFeatures({ layers: ['villages-fill'] }).filter((f) => typeof map.getFeatureState({ source: 'villages', id: f.id }).share === 'number').length;
    }),
    csp: await page.evaluate(() => window.__csp ?? []),
  };
  await shot(page, 'dashboard-desktop');
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(600);
  await shot(page, 'dashboard-phone');
  report.ok = true;
}, close);
