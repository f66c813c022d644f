// The vector tiles and their MapLibre style in Chromium: for each (collection, lon, lat, zoom) view,
// load the served style.json into the vendored MapLibre on this service's origin, wait until the
// map is idle, count the rendered features and labels, and take a screenshot.
//   node tiles_e2e.mjs BASE_URL OUT_DIR COLLECTION:LON:LAT:ZOOM...
import { join } from 'node:path';
import { startRun, launchContext, blockOtherOrigins, reportRun, CHROMIUM_ARGS, WEBGL_ARGS } from './browser.mjs';

const { base, outDir, rest, origin, watchdog } = startRun(
  'tiles_e2e', 'tiles_e2e.mjs BASE_URL OUT_DIR COLLECTION:LON:LAT:ZOOM...', 100000, 1);
const report = { ok: true, views: [], externalRequests: [], failedRequests: [] };
const { context, close } = await launchContext({ args: [...CHROMIUM_ARGS, ...WEBGL_ARGS], viewport: { width: 900, height: 700 } });
await blockOtherOrigins(context, origin, report.externalRequests);

await reportRun(report, watchdog, async () => {
  const page = await context.newPage();
  page.on('requestfailed', (r) => report.failedRequests.push(r.url()));
  page.on('response', (r) => { if (r.status() >= 400) report.failedRequests.push(`${r.status()} ${r.url()}`); });
  // A page of this origin (no CSP on a JSON answer), so the style, tiles and glyphs are same-origin.
  await page.goto(`${base}/healthz`);
  for (const view of rest) {
    const [collection, lon, lat, zoom] = view.split(':');
    const style = `${base}/collections/${collection}/tiles/WebMercatorQuad/style.json`;
    await page.setContent(`<html><head><link rel="stylesheet" href="${base}/planner/static/vendor/maplibre-gl.css">
      <style>html,body,#map{margin:0;width:100%;height:100%;background:#fff}</style></head>
      <body><div id="map"></div></body></html>`);
    await page.addScriptTag({ url: `${base}/planner/static/vendor/maplibre-gl.js` });
    const result = await page.evaluate(async ([style, lon, lat, zoom, collection]) => {
      const map = new maplibregl.Map({ container: 'map', style, center: [Number(lon), Number(lat)],
                                       zoom: Number(zoom), attributionControl: false, fadeDuration: 0 });
      const errors = [];
      map.on('error', (e) => errors.push(String(e?.error?.message ?? e)));
      await new Promise((resolve) => map.once('idle', resolve));
      const layers = map.getStyle().layers;
      const fills = map.queryRenderedFeatures({ layers: layers.filter((l) => l.type === 'fill').map((l) => l.id) });
      const symbols = layers.filter((l) => l.type === 'symbol').map((l) => l.id);
      const labels = symbols.length ? map.queryRenderedFeatures({ layers: symbols }) : [];
      const names = labels.map((f) => f.properties[Object.keys(f.properties).find((k) => k.endsWith('_name'))]);
      return { fills: fills.length, labels: labels.length, distinctLabels: new Set(names).size,
               glyphs: Boolean(map.getStyle().glyphs), errors, collection };
    }, [style, lon, lat, zoom, collection]);
    const screenshot = join(outDir, `${collection}-z${zoom}.png`);
    await page.screenshot({ path: screenshot });
    report.views.push({ view, screenshot, ...result });
  }
}, close);
