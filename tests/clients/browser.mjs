// What every Chromium driver here shares (docs_e2e, pages_e2e, planner_e2e, planner_issue14):
// its arguments and watchdog, the browser and its flags, other origins blocked, CSP violations
// recorded, and the one JSON report it prints before it exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(new URL('./node/', import.meta.url));
export const { chromium } = require('playwright-core');

/** The system browser (no download): CHROMIUM, default /usr/bin/chromium. */
export const EXECUTABLE = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Flags every driver starts Chromium with: no sandbox (root in CI), nothing phoning home. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run',
  '--disable-component-update', '--disable-sync',
];
/** WebGL for MapLibre on the CPU (SwiftShader through ANGLE), since --disable-gpu turns the GPU off. */
export const WEBGL_ARGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];

/**
 * BASE_URL OUT_DIR [ARG...] from the command line (exit 2 with the usage line when missing), and a
 * watchdog that exits 3 after E2E_TIMEOUT_MS (default `defaultTimeoutMs`).
 */
export function startRun(name, usage, defaultTimeoutMs, minExtra = 0) {
  const [base, outDir, ...rest] = process.argv.slice(2);
  if (!base || !outDir || rest.length < minExtra) {
    console.error(`usage: node ${usage}`);
    process.exit(2);
  }
  const timeout = Number(process.env.E2E_TIMEOUT_MS ?? defaultTimeoutMs);
  const watchdog = setTimeout(() => {
    console.error(`${name}: gave up after ${timeout} ms`);
    process.exit(3);
  }, timeout);
  return { base, outDir, rest, origin: new URL(base).origin, watchdog };
}

/** The two screens the planner drivers try: a 1366×768 laptop and a 390×844 phone. */
export const VIEWPORTS = { desktop: { width: 1366, height: 768 }, phone: { width: 390, height: 844 } };

/**
 * A page in a new context of `browser` for one run: the viewport (a touch phone or a desktop), the
 * language's locale, downloads allowed, other origins blocked into `run.externalRequests`.
 */
export async function viewportPage(browser, viewportName, language, origin, run) {
  const context = await browser.newContext({
    viewport: VIEWPORTS[viewportName], locale: language === 'id' ? 'id-ID' : 'en-US', acceptDownloads: true,
    isMobile: viewportName === 'phone', hasTouch: viewportName === 'phone',
  });
  await blockOtherOrigins(context, origin, run.externalRequests);
  const page = await context.newPage();
  page.setDefaultTimeout(30000);
  return { context, page };
}

/** `oneRun(viewport, language)` for each screen and language (E2E_ONLY="desktop-id,..." to pick some). */
export async function forEachRun(oneRun) {
  const only = process.env.E2E_ONLY ? process.env.E2E_ONLY.split(',') : null;
  for (const viewport of Object.keys(VIEWPORTS)) {
    for (const language of ['id', 'en']) {
      if (!only || only.includes(`${viewport}-${language}`)) await oneRun(viewport, language);
    }
  }
}

/** A browser context on a fresh temporary profile, and `close` that closes it and removes the profile. */
export async function launchContext(options) {
  const profile = mkdtempSync(join(tmpdir(), 'sasaran-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: EXECUTABLE, headless: true, ...options });
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, close };
}

/** Let the service's own origin (and data:, blob:) through, `allowed` seeing each; abort the rest into `external`. */
export function blockOtherOrigins(context, origin, external, allowed = () => {}) {
  return context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) {
      allowed(url);
      return route.continue();
    }
    external.push(url);
    return route.abort();
  });
}

/** CSP violations reach the page as events (the console message alone is easy to miss): keep them in window.__csp. */
export function recordCspViolations(page) {
  return page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      (window.__csp ??= []).push(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
}

/**
 * Run `body`; an error makes the report `ok: false` with the error. Then `cleanup`, print the report
 * as JSON on stdout and exit 0 when it is ok, 1 when not.
 */
export async function reportRun(report, watchdog, body, cleanup) {
  try {
    await body();
  } catch (err) {
    report.ok = false;
    report.error = String(err?.stack ?? err);
  } finally {
    await cleanup();
    clearTimeout(watchdog);
  }
  // Written, then exit once the pipe took it all (a large report is longer than the pipe's buffer).
  process.stdout.write(`${JSON.stringify(report, null, 1)}\n`, () => process.exit(report.ok ? 0 : 1));
}
