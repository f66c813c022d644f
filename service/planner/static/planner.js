// Sasaran planner: a plain ES module, no build step. A client of the service's own API:
//   GET  healthz, collections/villages, collections/{villages,kabupaten}/items (OGC API - Features)
//   GET  collections/hexagons/tiles/WebMercatorQuad/tilejson.json (+ MVT tiles), scores/village
//   POST targets (JSON), targets?f=csv|xlsx|gpkg (downloads)
// URLs are relative to the page (/planner), so the page also works behind a path prefix.
import { LANGS, lang, locale, setLang, t, translate, tValue } from './i18n.js';

const ROOT = new URL('.', document.baseURI);
const DIMENSIONS = ['income', 'education', 'health', 'quality_of_life'];
// Classes come from GET /classes (layers/classes.py), the one source QGIS styles and tile styles use.
let M0_BREAKS = [];
let M0_COLOURS = ['#cccccc'];
let HEX_BREAKS = [];
let HEX_COLOURS = ['#cccccc'];
let CLASS_LABELS = { m0: [], score: [] };

/** Read the shared classes (breaks, colours, labels in both languages) from the API. */
async function loadClasses() {
  const { m0, score } = await getJSON('classes');
  [M0_BREAKS, M0_COLOURS] = [m0.breaks, m0.classes.map((c) => c.color)];
  [HEX_BREAKS, HEX_COLOURS] = [score.breaks, score.classes.map((c) => c.color)];
  CLASS_LABELS = { m0: m0.classes.map((c) => c.label), score: score.classes.map((c) => c.label) };
}
const MAX_PAGES = 200;
// Fields whose defaults are the API's (layers/targeting.py), read from its OpenAPI schema.
const DEFAULTED = ['cost_fixed', 'cost_per_person', 'scenarios', 'seed'];

const state = {
  villages: null, // GeoJSON FeatureCollection
  bounds: new Map(), // village_code -> [minx, miny, maxx, maxy]
  kabupaten: [], // [{code, name}]
  m0: new Map(), // village_code -> M0 under the current year/k/weights (from /scores/village)
  map: null,
  mapReady: false,
  hex: false,
  result: null,
  request: null, // the body that produced `result` (downloads repeat it)
  downloads: new Map(), // format -> object URL
};

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => [...document.querySelectorAll(sel)];

// ---------------------------------------------------------------- formatting

const nf = (digits = 0) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits });
const fmtNum = (x, digits = 0) => (x == null || Number.isNaN(x) ? '—' : nf(digits).format(x));
const fmtFix = (x, digits = 3) =>
  x == null || Number.isNaN(x)
    ? '—'
    : new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x);
const fmtPct = (x, digits = 1) =>
  x == null || Number.isNaN(x)
    ? '—'
    : new Intl.NumberFormat(locale(), { style: 'percent', maximumFractionDigits: digits }).format(x);
const fmtRp = (x) =>
  x == null || Number.isNaN(x)
    ? '—'
    : new Intl.NumberFormat(locale(), { style: 'currency', currency: 'IDR', maximumFractionDigits: 0 }).format(x);

/** Build an element: h('td', {class: 'num'}, 'text', child, ...). Text is never parsed as HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'style') el.style.cssText = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c != null) el.append(c instanceof Node ? c : String(c));
  return el;
}

// ---------------------------------------------------------------- HTTP

class ProblemError extends Error {}

async function problemOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    const detail = body.detail ?? body.title ?? text;
    return typeof detail === 'string' ? detail : JSON.stringify(detail);
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

async function request(path, options = {}) {
  let response;
  try {
    response = await fetch(new URL(path, ROOT), options);
  } catch {
    throw new ProblemError(t('error_network'));
  }
  if (!response.ok) throw new ProblemError(await problemOf(response));
  return response;
}

const getJSON = async (path) => (await request(path, { headers: { Accept: 'application/json' } })).json();

/** Every feature of an OGC API - Features collection, following rel=next links. */
async function allFeatures(path) {
  const features = [];
  let url = path;
  for (let page = 0; url && page < MAX_PAGES; page++) {
    const body = await (await request(url, { headers: { Accept: 'application/geo+json' } })).json();
    features.push(...body.features);
    url = body.links?.find((l) => l.rel === 'next')?.href ?? null;
  }
  return { type: 'FeatureCollection', features };
}

// ---------------------------------------------------------------- messages

function showError(message) {
  const box = $('#error');
  box.replaceChildren(h('strong', {}, `${t('error')}:`), ' ', message);
  box.hidden = false;
}

function clearError() {
  $('#error').hidden = true;
}

function setStatus(text) {
  $('#status-line').textContent = text;
}

// ---------------------------------------------------------------- controls

function weights() {
  const raw = Object.fromEntries(DIMENSIONS.map((d) => [d, Number($(`#w_${d}`).value)]));
  const total = Object.values(raw).reduce((a, b) => a + b, 0);
  return Object.fromEntries(DIMENSIONS.map((d) => [d, total > 0 ? raw[d] / total : 1 / DIMENSIONS.length]));
}

function updateEchoes() {
  for (const id of ['budget', 'cost_fixed', 'cost_per_person']) {
    const value = Number($(`#${id}`).value);
    $(`#${id}-fmt`).textContent = Number.isFinite(value) ? fmtRp(value) : '';
  }
  const w = weights();
  for (const d of DIMENSIONS) $(`#w_${d}-out`).textContent = fmtPct(w[d], 0);
  $('#dimension-field').hidden = $('#objective').value !== 'dimension';
}

function numberOrNull(id) {
  const text = $(`#${id}`).value.trim();
  return text === '' ? null : Number(text);
}

/** The POST /targets body from the form; throws ProblemError on a value the user must fix. */
function readRequest() {
  const budget = numberOrNull('budget');
  if (!(budget > 0)) throw new ProblemError(t('error_budget'));
  const unchecked = $$('#kabupaten-list input:not(:checked)').map((el) => el.value);
  if (state.kabupaten.length && unchecked.length === state.kabupaten.length) throw new ProblemError(t('error_no_kab'));
  const body = {
    year: Number($('#year').value) || undefined,
    objective: $('#objective').value,
    k: Number($('#k').value),
    dimension_weights: weights(),
    budget,
  };
  // Left empty, the cost model and the scenarios take the API's defaults (see fillDefaults).
  for (const id of DEFAULTED) {
    const value = numberOrNull(id);
    if (value != null) body[id] = value;
  }
  if (body.objective === 'dimension') body.dimension = $('#dimension').value;
  const maxVillages = numberOrNull('max_villages');
  if (maxVillages) body.max_villages = maxVillages;
  const minScore = numberOrNull('min_score');
  if (minScore != null) body.min_score = minScore;
  // The filter "which kabupaten are eligible" is a cap of 0 villages on each one left out.
  if (unchecked.length) body.kabupaten_max = Object.fromEntries(unchecked.map((code) => [code, 0]));
  const priority = {};
  for (const el of $$('[data-priority]')) if (Number(el.value) > 0) priority[el.dataset.priority] = Number(el.value);
  if (Object.keys(priority).length) body.priority = priority;
  return body;
}

/** Show the API's default cost model and scenarios in the empty fields (one definition, server side). */
async function fillDefaults() {
  const schema = await getJSON('openapi').catch(() => null);
  const fields = schema?.components?.schemas?.TargetRequest?.properties ?? {};
  for (const id of DEFAULTED) {
    const value = fields[id]?.default;
    if (value != null && $(`#${id}`).value === '') $(`#${id}`).value = String(value);
  }
  updateEchoes();
}

function fillYears(collection, villages) {
  let years = [];
  const interval = collection?.extent?.temporal?.interval?.[0];
  if (interval?.[0] && interval?.[1]) {
    const first = Number(interval[0].slice(0, 4));
    const last = Number(interval[1].slice(0, 4));
    for (let y = first; y <= last && years.length < 100; y++) years.push(y);
  }
  if (!years.length) years = [...new Set(villages.features.map((f) => f.properties.year).filter(Boolean))].sort();
  $('#year').replaceChildren(...years.map((y) => h('option', { value: y }, y)));
  if (years.length) $('#year').value = String(years[years.length - 1]);
}

function fillKabupaten(kabupaten) {
  state.kabupaten = kabupaten.features
    .map((f) => ({ code: f.properties.kabupaten_code, name: f.properties.kabupaten_name }))
    .sort((a, b) => a.code.localeCompare(b.code));
  $('#kabupaten-list').replaceChildren(
    ...state.kabupaten.map((k) =>
      h('label', {}, h('input', { type: 'checkbox', value: k.code, checked: true, name: 'kabupaten' }), `${k.name} (${k.code})`),
    ),
  );
}

// ---------------------------------------------------------------- map

const stepExpression = (input, breaks, colours) => ['step', input, colours[0], ...breaks.flatMap((b, i) => [b, colours[i + 1]])];

function m0Expression() {
  const value = ['coalesce', ['feature-state', 'm0'], ['get', 'M0']];
  return ['case', ['==', value, null], '#cccccc', stepExpression(value, M0_BREAKS, M0_COLOURS)];
}

function featureBounds(geometry) {
  let minx = Infinity, miny = Infinity, maxx = -Infinity, maxy = -Infinity;
  const walk = (c) => {
    if (typeof c[0] === 'number') {
      minx = Math.min(minx, c[0]); maxx = Math.max(maxx, c[0]);
      miny = Math.min(miny, c[1]); maxy = Math.max(maxy, c[1]);
    } else c.forEach(walk);
  };
  if (geometry) walk(geometry.coordinates);
  return [minx, miny, maxx, maxy];
}

function unionBounds(boxes) {
  return boxes.reduce(
    (a, b) => [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])],
    [Infinity, Infinity, -Infinity, -Infinity],
  );
}

/** Padding that keeps the province clear of the legend in the map's lower left corner. */
function mapPadding() {
  const width = $('#map').clientWidth || 800;
  return { top: 30, right: 50, bottom: 30, left: Math.min(250, Math.round(width * 0.3)) };
}

function initMap(villages, kabupaten) {
  if (!window.maplibregl) {
    $('#map').replaceChildren(h('p', { class: 'map-fallback' }, 'MapLibre GL JS could not be loaded.'));
    return;
  }
  const box = unionBounds([...state.bounds.values()]);
  let map;
  try {
    map = new maplibregl.Map({
      container: 'map',
      // Our own layers only: no background tiles, no glyphs or sprites (nothing fetched from the internet).
      style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e8edf1' } }] },
      bounds: Number.isFinite(box[0]) ? box : undefined,
      fitBoundsOptions: { padding: mapPadding() },
      attributionControl: { compact: true, customAttribution: 'Sasaran' },
      preserveDrawingBuffer: true, // screenshots of the canvas (e2e test, "print")
    });
  } catch (err) {
    $('#map').replaceChildren(h('p', { class: 'map-fallback' }, `WebGL: ${err.message}`));
    return;
  }
  state.map = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  map.on('load', () => {
    map.addSource('villages', { type: 'geojson', data: villages, promoteId: 'village_code' });
    map.addSource('kabupaten', { type: 'geojson', data: kabupaten });
    const fillOpacity = ['interpolate', ['linear'], ['zoom'], 8, 0.85, 11, 0.55, 13, 0.3];
    map.addLayer({ id: 'villages-fill', type: 'fill', source: 'villages', paint: { 'fill-color': m0Expression(), 'fill-opacity': fillOpacity } });
    map.addLayer({ id: 'villages-line', type: 'line', source: 'villages', paint: { 'line-color': '#ffffff', 'line-width': 0.8 } });
    map.addLayer({ id: 'kabupaten-line', type: 'line', source: 'kabupaten', paint: { 'line-color': '#39424e', 'line-width': 1.6 } });
    const none = ['in', ['get', 'village_code'], ['literal', []]];
    map.addLayer({ id: 'selected-casing', type: 'line', source: 'villages', filter: none, paint: { 'line-color': '#ffffff', 'line-width': 6 } });
    map.addLayer({ id: 'selected-line', type: 'line', source: 'villages', filter: none, paint: { 'line-color': '#0a2f6b', 'line-width': 3.5 } });
    map.on('click', 'villages-fill', (e) => showPopup(e.features[0].properties.village_code, e.lngLat));
    map.on('mouseenter', 'villages-fill', () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', 'villages-fill', () => { map.getCanvas().style.cursor = ''; });
    // A hook for people and tests: data-map="idle" once everything visible has been drawn.
    map.on('idle', () => { document.body.dataset.map = 'idle'; });
    state.mapReady = true;
    applyM0();
    highlightSelection();
    addHexagons();
  });
}

/** Hexagon vector tiles beneath the villages, if the tiles endpoint answers (optional layer). */
async function addHexagons() {
  let tilejson;
  try {
    tilejson = await getJSON('collections/hexagons/tiles/WebMercatorQuad/tilejson.json');
    if (!tilejson.tiles?.length) throw new Error('no tiles');
  } catch {
    $('#hex-note').hidden = false;
    $('#toggle-hex').checked = false;
    $('#toggle-hex').disabled = true;
    renderLegend();
    return;
  }
  const map = state.map;
  const layer = tilejson.vector_layers?.[0]?.id ?? 'hexagons';
  // Absolute tile URLs from the TileJSON keep the host the client used; relative ones resolve here.
  const tiles = tilejson.tiles.map((u) => decodeURI(new URL(u, ROOT).href));
  map.addSource('hexagons', { type: 'vector', tiles, minzoom: tilejson.minzoom ?? 0, maxzoom: tilejson.maxzoom ?? 14, bounds: tilejson.bounds });
  map.addLayer(
    {
      id: 'hexagons-fill', type: 'fill', source: 'hexagons', 'source-layer': layer,
      paint: { 'fill-color': ['case', ['has', 'score'], stepExpression(['get', 'score'], HEX_BREAKS, HEX_COLOURS), 'rgba(0,0,0,0)'], 'fill-opacity': 0.9 },
    },
    'villages-fill',
  );
  state.hex = true;
  renderLegend();
}

function setVisibility(layerIds, visible) {
  if (!state.mapReady) return;
  for (const id of layerIds) if (state.map.getLayer(id)) state.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
}

function applyM0() {
  if (!state.mapReady) return;
  for (const [code, m0] of state.m0) state.map.setFeatureState({ source: 'villages', id: code }, { m0 });
}

function highlightSelection() {
  if (!state.mapReady) return;
  const codes = state.result?.selected?.map((r) => r.village_code) ?? [];
  const filter = ['in', ['get', 'village_code'], ['literal', codes]];
  document.body.dataset.map = 'busy';
  state.map.setFilter('selected-casing', filter);
  state.map.setFilter('selected-line', filter);
}

function villageProps(code) {
  return state.villages?.features.find((f) => f.properties.village_code === code)?.properties;
}

function showPopup(code, lngLat) {
  const p = villageProps(code);
  if (!p || !state.map) return;
  const row = state.result?.selected?.find((r) => r.village_code === code);
  const m0 = state.m0.get(code) ?? p.M0;
  const content = h(
    'div', {},
    h('h3', {}, p.village_name),
    h('dl', {},
      h('dt', {}, t('kab')), h('dd', {}, p.kabupaten_name),
      h('dt', {}, t('m0')), h('dd', {}, fmtFix(m0)),
      h('dt', {}, t('popup_population')), h('dd', {}, fmtNum(p.population)),
      row ? [h('dt', {}, t('popup_rank')), h('dd', {}, row.rank)] : null),
  );
  new maplibregl.Popup({ maxWidth: '18rem' }).setLngLat(lngLat).setDOMContent(content).addTo(state.map);
}

function zoomTo(code) {
  const box = state.bounds.get(code);
  if (!box || !state.map) return;
  state.map.fitBounds(box, { padding: 80, maxZoom: 12, duration: 600 });
  showPopup(code, [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]);
  $$('#selected tbody tr').forEach((tr) => tr.classList.toggle('active', tr.dataset.code === code));
}

function renderLegend() {
  const labels = CLASS_LABELS.m0.map((l) => l[lang()] || l.en);
  const items = [
    h('h3', {}, t('legend_m0')),
    h('ul', {}, M0_COLOURS.map((c, i) => h('li', {}, h('span', { class: 'swatch', style: `background:${c}` }), labels[i]))),
    h('ul', {}, h('li', {}, h('span', { class: 'swatch outline' }), t('legend_selected'))),
    h('p', { class: 'note' }, `${t('map_m0_note')} (${$('#year').value || ''})`),
  ];
  if (state.hex) {
    const hexLabels = CLASS_LABELS.score.map((l) => l[lang()] || l.en);
    items.push(h('h3', {}, t('legend_hex')), h('ul', { class: 'ramp' }, HEX_COLOURS.map((c, i) => h('li', {}, h('span', { class: 'swatch', style: `background:${c}` }), hexLabels[i]))));
  }
  $('#legend').replaceChildren(...items);
}

let m0Timer = null;
/** Recolour the villages by M0 under the chosen year, k and weights (GET /scores/village). */
function refreshM0Soon() {
  clearTimeout(m0Timer);
  m0Timer = setTimeout(refreshM0, 350);
}

async function refreshM0() {
  const params = new URLSearchParams({ year: $('#year').value, k: $('#k').value, limit: '10000' });
  for (const [d, w] of Object.entries(weights())) params.set(`w_${d}`, String(w));
  const m0 = new Map();
  try {
    let url = `scores/village?${params}`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const body = await getJSON(url);
      for (const u of body.units ?? []) m0.set(u.id, u.M0);
      url = body.links?.find((l) => l.rel === 'next')?.href ?? null;
    }
  } catch {
    return; // keep the stored M0: the map is context, the selection is what matters
  }
  state.m0 = m0;
  applyM0();
  renderLegend();
}

// ---------------------------------------------------------------- results

function driverCell(drivers) {
  const sorted = (drivers ?? []).map((d) => ({ ...d, share: d.share ?? 0 })).sort((a, b) => b.share - a.share);
  const bar = h('div', { class: 'driver-bar', 'aria-hidden': 'true' },
    sorted.map((d) => h('span', { style: `width:${(100 * d.share).toFixed(1)}%;background:var(--d-${d.dimension}, #999)`, title: `${t(d.dimension)} ${fmtPct(d.share, 0)}` })));
  const text = sorted.filter((d) => d.share >= 0.05).slice(0, 3).map((d) => `${t(d.dimension).toLowerCase()} ${fmtPct(d.share, 0)}`).join(', ');
  return h('td', {}, h('div', { class: 'drivers' }, bar, h('span', { class: 'driver-text' }, text || '—')));
}

function renderSummary(res) {
  const s = res.summary ?? {};
  const small = (text) => h('small', {}, text);
  $('#s-n').replaceChildren(fmtNum(s.n_selected), small(`${t('of')} ${fmtNum(state.villages?.features.length)} ${t('villages_count')}`));
  $('#s-budget').replaceChildren(fmtPct(s.budget_used_share), small(`${fmtRp(s.total_cost)} ${t('of')} ${fmtRp(s.budget)}`));
  $('#s-people').replaceChildren(fmtNum(s.people_reached), small(t('people')));
  $('#s-coverage').replaceChildren(fmtPct(s.coverage), small(t('coverage_hint')));
  const optimal = String(res.status).toLowerCase() === 'optimal';
  const detail = `${t('gap')} ${fmtPct(res.gap, 2)} · ${fmtNum(res.solve_seconds, 2)} ${t('seconds')}`;
  $('#s-status').replaceChildren(h('span', { class: optimal ? 'status-optimal' : 'status-other' }, tValue('status', res.status)), small(detail));
  $('#summary').hidden = false;

  const byKab = s.by_kabupaten ?? [];
  $('#by-kabupaten tbody').replaceChildren(...byKab.map((k) => h('tr', {},
    h('th', { scope: 'row' }, k.kabupaten_name ?? k.name ?? k.kabupaten_code ?? k.code),
    h('td', { class: 'num' }, fmtNum(k.n_selected)),
    h('td', { class: 'num' }, fmtNum(k.people_reached)),
    h('td', { class: 'num' }, fmtRp(k.cost)),
    h('td', { class: 'num' }, fmtPct(k.coverage)))));
  $('#by-kabupaten').hidden = byKab.length === 0;
}

function renderTable(res) {
  const rows = (res.selected ?? []).map((r) => h('tr', { 'data-code': r.village_code },
    h('td', { class: 'num' }, r.rank),
    h('th', { scope: 'row' },
      h('button', { type: 'button', class: 'village-link', title: t('show_on_map'), onclick: () => zoomTo(r.village_code) }, r.village_name),
      h('span', { class: 'code' }, `${r.village_code}${r.kecamatan_name ? ` · ${r.kecamatan_name}` : ''}`)),
    h('td', {}, r.kabupaten_name),
    h('td', { class: 'num' }, fmtNum(r.people_reached)),
    h('td', { class: 'num' }, fmtRp(r.cost)),
    h('td', { class: 'num' }, fmtFix(r.M0)),
    driverCell(r.drivers),
    h('td', { class: 'num' }, h('span', { class: 'conf' }, r.confidence == null ? '—' : fmtPct(r.confidence, 0)))));
  $('#selected tbody').replaceChildren(...(rows.length ? rows : [h('tr', { class: 'empty' }, h('td', { colspan: 8 }, t('table_empty')))]));

  const below = res.below_line ?? [];
  $('#below-line tbody').replaceChildren(...below.map((r) => h('tr', {},
    h('th', { scope: 'row' }, r.village_name, h('span', { class: 'code' }, r.village_code)),
    h('td', {}, r.kabupaten_name),
    h('td', { class: 'num' }, fmtNum(r.people_reached)),
    h('td', { class: 'num' }, fmtRp(r.cost)),
    h('td', { class: 'num' }, fmtFix(r.M0)),
    h('td', {}, tValue('reason', r.reason)))));
  $('#below-line').hidden = below.length === 0;
}

function render() {
  renderLegend();
  updateEchoes();
  if (!state.result) return;
  renderSummary(state.result);
  renderTable(state.result);
}

// ---------------------------------------------------------------- actions

async function run(event) {
  event.preventDefault();
  clearError();
  let body;
  try {
    body = readRequest();
  } catch (err) {
    showError(err.message);
    document.body.dataset.state = 'error';
    return;
  }
  const button = $('#run');
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = t('running');
  document.body.dataset.state = 'running';
  try {
    const response = await request('targets', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    state.result = await response.json();
    state.request = body;
    render();
    highlightSelection();
    $$('.downloads button').forEach((b) => { b.disabled = false; });
    setStatus(`${fmtNum(state.result.summary?.n_selected)} ${t('villages_count')} · ${tValue('status', state.result.status)}`);
    document.body.dataset.state = 'done';
  } catch (err) {
    showError(err instanceof ProblemError ? err.message : String(err));
    document.body.dataset.state = 'error';
  } finally {
    button.disabled = false;
    button.removeAttribute('aria-busy');
    button.textContent = t('run');
  }
}

function filenameFrom(response, fallback) {
  const cd = response.headers.get('Content-Disposition') ?? '';
  const star = /filename\*=UTF-8''([^;]+)/i.exec(cd);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(cd);
  return plain ? plain[1] : fallback;
}

async function download(format, button) {
  if (!state.request) return;
  clearError();
  const label = button.textContent;
  button.disabled = true;
  button.textContent = t('downloading');
  try {
    const response = await request(`targets?f=${format}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(state.request),
    });
    const blob = await response.blob();
    const name = filenameFrom(response, `sasaran-targets-${state.request.year ?? ''}.${format}`);
    if (state.downloads.has(format)) URL.revokeObjectURL(state.downloads.get(format));
    const url = URL.createObjectURL(blob);
    state.downloads.set(format, url);
    const link = h('a', { href: url, download: name, 'data-format': format }, `${name} (${fmtNum(blob.size / 1024, 1)} KB)`);
    const links = $('#download-links');
    links.querySelector(`a[data-format="${format}"]`)?.remove();
    if (!links.firstChild) links.append(h('span', {}, `${t('downloaded')} `));
    links.append(link);
    link.click();
  } catch (err) {
    showError(err instanceof ProblemError ? err.message : String(err));
  } finally {
    button.disabled = false;
    button.textContent = label;
  }
}

function switchLanguage() {
  const next = lang() === 'id' ? 'en' : 'id';
  setLang(next);
  try { localStorage.setItem('sasaran.lang', next); } catch { /* private mode: not remembered */ }
  translate();
  render();
}

function wire() {
  $('#controls').addEventListener('submit', run);
  $('#lang-toggle').addEventListener('click', switchLanguage);
  $('#controls').addEventListener('input', (e) => {
    updateEchoes();
    if (e.target.matches('#k, #year, #weights input')) refreshM0Soon();
  });
  $('#kab-all').addEventListener('click', () => $$('#kabupaten-list input').forEach((el) => { el.checked = true; }));
  $('#kab-none').addEventListener('click', () => $$('#kabupaten-list input').forEach((el) => { el.checked = false; }));
  $$('.downloads button').forEach((b) => b.addEventListener('click', () => download(b.dataset.format, b)));
  $('#toggle-hex').addEventListener('change', (e) => setVisibility(['hexagons-fill'], e.target.checked));
  $('#toggle-villages').addEventListener('change', (e) => setVisibility(['villages-fill', 'villages-line'], e.target.checked));
}

async function init() {
  let saved = null;
  try { saved = localStorage.getItem('sasaran.lang'); } catch { /* ignore */ }
  setLang(LANGS.includes(saved) ? saved : 'id');
  translate();
  wire();
  updateEchoes();
  setStatus(t('loading'));
  try {
    const [health, , , collection, kabupaten, villages] = await Promise.all([
      getJSON('healthz').catch(() => ({})),
      fillDefaults(),
      loadClasses(),
      getJSON('collections/villages').catch(() => null),
      allFeatures('collections/kabupaten/items?limit=1000'),
      allFeatures('collections/villages/items?limit=1000'),
    ]);
    $('#synthetic-banner').hidden = !health.synthetic;
    state.villages = villages;
    for (const f of villages.features) state.bounds.set(f.properties.village_code, featureBounds(f.geometry));
    fillYears(collection, villages);
    fillKabupaten(kabupaten);
    renderLegend();
    initMap(villages, kabupaten);
    refreshM0();
    setStatus('');
    document.body.dataset.state = 'ready';
  } catch (err) {
    showError(err instanceof ProblemError ? err.message : String(err));
    setStatus('');
    document.body.dataset.state = 'error';
  }
}

init();
