// Sasaran planner: a plain ES module, no build step. A client of the service's own API:
//   GET  healthz, collections/villages, collections/{villages,kabupaten}/items (OGC API - Features)
//   GET  collections/hexagons/tiles/WebMercatorQuad/tilejson.json (+ MVT tiles), scores/village
//   POST targets (JSON), targets?f=csv|xlsx|gpkg|pdf&lang= (downloads), GET changes (year on year)
// URLs are relative to the page (/planner), so the page also works behind a path prefix.
//
// The page never shows a result that does not match it: every run clears the previous results,
// links and popups first; a change to any input marks the shown results as out of date; the whole
// page state (settings, language, map mode) lives in the URL hash, so a shared link reproduces it.
import { LANGS, lang, locale, setLang, t, tf, translate, tValue } from './i18n.js';

const ROOT = new URL('.', document.baseURI);
const DIMENSIONS = ['income', 'education', 'health', 'quality_of_life'];
// Classes come from GET /classes (layers/maps/classes.py), the one source QGIS styles and tile styles use.
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
const CHANGE_BREAKS = [-0.05, -0.02, -0.005, 0.005, 0.02, 0.05];
const CHANGE_COLOURS = ['#1a7a3a', '#5cae63', '#b7dfae', '#f2f2f2', '#f6c1a6', '#e4704f', '#b2182b'];
const SELECTED_COLOUR = '#00e5ff'; // bright cyan on a dark halo: unmistakable over the warm M0 ramp
const PHONE = '(max-width: 900px)';
const MAX_PAGES = 200;
// Fields whose defaults are the API's (layers/targeting/selection.py), read from its OpenAPI schema.
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
  popup: null, // {code, lngLat, popup}: the open popup, re-rendered on a language switch
  markers: [], // rank markers of the selected villages and names of excluded kabupaten
  changes: null, // GET /changes answer shown in the year-on-year table
  villageChanges: new Map(), // village_code -> M0 change (map mode "change")
  mode: 'm0',
  runId: 0,
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

let statusText = () => '';
/** The status line, as a function of the language so a switch re-renders it (never mixed languages). */
function setStatus(text) {
  statusText = typeof text === 'function' ? text : () => text;
  $('#status-line').textContent = statusText();
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

/** The request the form describes now, as a comparable string (null when the form is invalid). */
function formKey() {
  try {
    return JSON.stringify(readRequest());
  } catch {
    return null;
  }
}

/** Mark the shown results out of date when the form no longer describes them. */
function markStale() {
  const stale = state.request != null && formKey() !== JSON.stringify(state.request);
  $('#stale').hidden = !stale;
  $('#results').classList.toggle('is-stale', stale);
  document.body.dataset.stale = String(stale);
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
  state.years = years;
  $('#year').replaceChildren(...years.map((y) => h('option', { value: y }, y)));
  if (years.length) $('#year').value = String(years[years.length - 1]);
}

function fillKabupaten(kabupaten) {
  state.kabupaten = kabupaten.features
    .map((f) => ({ code: f.properties.kabupaten_code, name: f.properties.kabupaten_name, bounds: featureBounds(f.geometry) }))
    .sort((a, b) => a.code.localeCompare(b.code));
  $('#kabupaten-list').replaceChildren(
    ...state.kabupaten.map((k) =>
      h('label', {}, h('input', { type: 'checkbox', value: k.code, checked: true, name: 'kabupaten' }), `${k.name} (${k.code})`),
    ),
  );
}

// ---------------------------------------------------------------- the page state in the URL

// Short keys keep a shared link readable: #b=5000000000&y=2024&k=0.3333&o=mpi_poor&w=25,25,25,25&run=1
const FIELDS = { y: 'year', k: 'k', o: 'objective', dim: 'dimension', b: 'budget', cf: 'cost_fixed', cp: 'cost_per_person', mv: 'max_villages', sc: 'scenarios', ms: 'min_score', seed: 'seed' };

function writeHash(ran) {
  const params = new URLSearchParams();
  for (const [key, id] of Object.entries(FIELDS)) {
    const value = $(`#${id}`).value.trim();
    if (value !== '') params.set(key, value);
  }
  params.set('w', DIMENSIONS.map((d) => $(`#w_${d}`).value).join(','));
  const out = $$('#kabupaten-list input:not(:checked)').map((el) => el.value);
  if (out.length) params.set('x', out.join(','));
  for (const el of $$('[data-priority]')) if (Number(el.value) > 0) params.set(`p_${el.dataset.priority}`, el.value);
  params.set('lang', lang());
  if (state.mode !== 'm0') params.set('map', state.mode);
  if (ran) params.set('run', '1');
  history.replaceState(null, '', `#${params}`);
}

/** Apply a shared link's state to the form; true when it asks for the selection to be run. */
function readHash() {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [key, id] of Object.entries(FIELDS)) if (params.has(key)) $(`#${id}`).value = params.get(key);
  const w = (params.get('w') ?? '').split(',');
  if (w.length === DIMENSIONS.length) DIMENSIONS.forEach((d, i) => { $(`#w_${d}`).value = w[i]; });
  const out = new Set((params.get('x') ?? '').split(',').filter(Boolean));
  for (const el of $$('#kabupaten-list input')) el.checked = !out.has(el.value);
  for (const el of $$('[data-priority]')) el.value = params.get(`p_${el.dataset.priority}`) ?? el.value;
  if ($$('[data-priority]').some((el) => Number(el.value) > 0) || params.has('ms') || params.has('seed')) $('details.advanced').open = true;
  if (['m0', 'hex', 'change'].includes(params.get('map'))) state.mode = params.get('map');
  return params.get('run') === '1';
}

// ---------------------------------------------------------------- map

const stepExpression = (input, breaks, colours) => ['step', input, colours[0], ...breaks.flatMap((b, i) => [b, colours[i + 1]])];

function m0Expression() {
  const value = ['coalesce', ['feature-state', 'm0'], ['get', 'M0']];
  return ['case', ['==', value, null], '#cccccc', stepExpression(value, M0_BREAKS, M0_COLOURS)];
}

function changeExpression() {
  const value = ['feature-state', 'change'];
  return ['case', ['==', value, null], '#cccccc', stepExpression(value, CHANGE_BREAKS, CHANGE_COLOURS)];
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

const isPhone = () => window.matchMedia(PHONE).matches;

/** Padding that keeps the province clear of the legend in the map's lower left corner. */
function mapPadding() {
  const width = $('#map').clientWidth || 800;
  if (isPhone()) return { top: 20, right: 20, bottom: 50, left: 20 };
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
  window.sasaranMap = map; // for people and tests: the MapLibre map (e.g. queryRenderedFeatures)
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
  map.on('load', () => {
    map.addSource('villages', { type: 'geojson', data: villages, promoteId: 'village_code' });
    map.addSource('kabupaten', { type: 'geojson', data: kabupaten, promoteId: 'kabupaten_code' });
    const fillOpacity = ['interpolate', ['linear'], ['zoom'], 8, 0.85, 11, 0.55, 13, 0.3];
    map.addLayer({ id: 'villages-fill', type: 'fill', source: 'villages', paint: { 'fill-color': m0Expression(), 'fill-opacity': fillOpacity } });
    map.addLayer({ id: 'villages-line', type: 'line', source: 'villages', paint: { 'line-color': '#ffffff', 'line-width': 0.8 } });
    // Excluded kabupaten are veiled in white and named (HTML markers: the page loads no map fonts).
    map.addLayer({
      id: 'kabupaten-excluded', type: 'fill', source: 'kabupaten',
      paint: { 'fill-color': '#ffffff', 'fill-opacity': ['case', ['boolean', ['feature-state', 'excluded'], false], 0.75, 0] },
    });
    map.addLayer({ id: 'kabupaten-line', type: 'line', source: 'kabupaten', paint: { 'line-color': '#39424e', 'line-width': 1.6 } });
    const none = ['in', ['get', 'village_code'], ['literal', []]];
    // Selected villages: a bright fill wash, a dark halo and a thick cyan outline, plus numbered
    // markers (addMarkers) so that even a village a few pixels wide at province zoom stands out.
    map.addLayer({ id: 'selected-fill', type: 'fill', source: 'villages', filter: none, paint: { 'fill-color': SELECTED_COLOUR, 'fill-opacity': 0.35 } });
    map.addLayer({ id: 'selected-casing', type: 'line', source: 'villages', filter: none, paint: { 'line-color': '#06121f', 'line-width': 7 } });
    map.addLayer({ id: 'selected-line', type: 'line', source: 'villages', filter: none, paint: { 'line-color': SELECTED_COLOUR, 'line-width': 3.5 } });
    map.on('click', 'villages-fill', (e) => showPopup(e.features[0].properties.village_code, e.lngLat));
    map.on('mouseenter', 'villages-fill', () => { map.getCanvas().style.cursor = 'pointer'; });
    map.on('mouseleave', 'villages-fill', () => { map.getCanvas().style.cursor = ''; });
    // A hook for people and tests: data-map="idle" once everything visible has been drawn.
    map.on('idle', () => { document.body.dataset.map = 'idle'; });
    state.mapReady = true;
    applyM0();
    applyChanges();
    highlightSelection();
    addHexagons();
    applyMode();
  });
}

/** Hexagon vector tiles (map mode "hex"), if the tiles endpoint answers (optional layer). */
async function addHexagons() {
  let tilejson;
  try {
    tilejson = await getJSON('collections/hexagons/tiles/WebMercatorQuad/tilejson.json');
    if (!tilejson.tiles?.length) throw new Error('no tiles');
  } catch {
    $('#hex-note').hidden = false;
    $('#mode-hex').disabled = true;
    if (state.mode === 'hex') setMode('m0');
    renderLegend();
    return;
  }
  const map = state.map;
  const layer = tilejson.vector_layers?.[0]?.id ?? 'hexagons';
  // Absolute tile URLs from the TileJSON keep the host the client used; relative ones resolve here.
  const tiles = tilejson.tiles.map((u) => decodeURI(new URL(u, ROOT).href));
  map.addSource('hexagons', { type: 'vector', tiles, minzoom: tilejson.minzoom ?? 0, maxzoom: tilejson.maxzoom ?? 14, bounds: tilejson.bounds });
  // Above the village fill (which hides in this mode), below the outlines and the selection.
  // Cells without a score (fewer than 0.5 people) stay transparent.
  map.addLayer(
    {
      id: 'hexagons-fill', type: 'fill', source: 'hexagons', 'source-layer': layer,
      layout: { visibility: state.mode === 'hex' ? 'visible' : 'none' },
      paint: { 'fill-color': ['case', ['has', 'score'], stepExpression(['get', 'score'], HEX_BREAKS, HEX_COLOURS), 'rgba(0,0,0,0)'], 'fill-opacity': 0.85 },
    },
    'villages-line',
  );
  state.hex = true;
  applyMode();
}

function setVisibility(layerIds, visible) {
  if (!state.mapReady) return;
  for (const id of layerIds) if (state.map.getLayer(id)) state.map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
}

/** Colour the map by village M0, by hexagon score or by the change in M0 between the first and last year. */
function applyMode() {
  $$('input[name="map-mode"]').forEach((el) => { el.checked = el.value === state.mode; });
  renderLegend();
  if (!state.mapReady) return;
  setVisibility(['hexagons-fill'], state.mode === 'hex');
  setVisibility(['villages-fill'], state.mode !== 'hex');
  state.map.setPaintProperty('villages-fill', 'fill-color', state.mode === 'change' ? changeExpression() : m0Expression());
}

function setMode(mode) {
  state.mode = mode;
  applyMode();
  if (mode === 'change' && !state.villageChanges.size) loadVillageChanges();
}

function applyM0() {
  if (!state.mapReady) return;
  for (const [code, m0] of state.m0) state.map.setFeatureState({ source: 'villages', id: code }, { m0 });
}

function applyChanges() {
  if (!state.mapReady) return;
  for (const [code, change] of state.villageChanges) state.map.setFeatureState({ source: 'villages', id: code }, { change });
}

function clearMarkers() {
  for (const m of state.markers) m.remove();
  state.markers = [];
}

/** Numbered markers on the selected villages, names on the excluded kabupaten (HTML: no map fonts). */
function addMarkers() {
  clearMarkers();
  if (!state.map || !state.result) return;
  for (const r of (state.result.selected ?? []).slice(0, 100)) {
    const box = state.bounds.get(r.village_code);
    if (!box) continue;
    const el = h('button', { type: 'button', class: 'rank-marker', title: r.village_name, 'data-code': r.village_code, onclick: () => zoomTo(r.village_code) }, r.rank);
    state.markers.push(new maplibregl.Marker({ element: el }).setLngLat([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]).addTo(state.map));
  }
  for (const k of state.result.summary?.excluded_kabupaten ?? []) {
    const box = state.kabupaten.find((x) => x.code === k.kabupaten_code)?.bounds;
    if (!box) continue;
    const el = h('span', { class: 'excluded-label', 'data-code': k.kabupaten_code }, k.kabupaten_name);
    state.markers.push(new maplibregl.Marker({ element: el }).setLngLat([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]).addTo(state.map));
  }
}

function highlightSelection() {
  if (!state.mapReady) return;
  const codes = state.result?.selected?.map((r) => r.village_code) ?? [];
  const filter = ['in', ['get', 'village_code'], ['literal', codes]];
  document.body.dataset.map = 'busy';
  for (const id of ['selected-fill', 'selected-casing', 'selected-line']) state.map.setFilter(id, filter);
  const excluded = new Set((state.result?.summary?.excluded_kabupaten ?? []).map((k) => k.kabupaten_code));
  for (const k of state.kabupaten) state.map.setFeatureState({ source: 'kabupaten', id: k.code }, { excluded: excluded.has(k.code) });
  addMarkers();
}

function villageProps(code) {
  return state.villages?.features.find((f) => f.properties.village_code === code)?.properties;
}

function closePopup() {
  state.popup?.popup.remove();
  state.popup = null;
}

function showPopup(code, lngLat) {
  const p = villageProps(code);
  if (!p || !state.map) return;
  closePopup();
  const row = state.result?.selected?.find((r) => r.village_code === code);
  const change = state.villageChanges.get(code);
  const m0 = state.m0.get(code) ?? p.M0;
  const content = h(
    'div', { class: 'popup', 'data-code': code },
    h('h3', {}, p.village_name),
    h('dl', {},
      h('dt', {}, t('kab')), h('dd', {}, p.kabupaten_name),
      h('dt', {}, t('m0')), h('dd', {}, fmtFix(m0)),
      h('dt', {}, t('popup_population')), h('dd', {}, fmtNum(p.population)),
      change != null ? [h('dt', {}, 'ΔM0'), h('dd', {}, fmtSigned(change, 3))] : null,
      row ? [h('dt', {}, t('popup_rank')), h('dd', {}, row.rank)] : null),
  );
  const popup = new maplibregl.Popup({ maxWidth: '18rem' }).setLngLat(lngLat).setDOMContent(content).addTo(state.map);
  state.popup = { code, lngLat, popup };
  // On a phone the legend would cover the popup: fold the overlay away while a popup is open.
  $('#map-overlay').classList.toggle('under-popup', isPhone());
  popup.on('close', () => {
    if (state.popup?.popup === popup) state.popup = null;
    $('#map-overlay').classList.remove('under-popup');
  });
}

/** Show the whole selection (the whole province when nothing is selected) after a run. */
function fitSelection() {
  if (!state.map) return;
  const codes = state.result?.selected?.map((r) => r.village_code) ?? [];
  const boxes = (codes.length ? codes : [...state.bounds.keys()]).map((c) => state.bounds.get(c)).filter(Boolean);
  const box = unionBounds(boxes);
  if (Number.isFinite(box[0])) state.map.fitBounds(box, { padding: mapPadding(), maxZoom: 10, duration: 0 });
}

function zoomTo(code) {
  const box = state.bounds.get(code);
  if (!box || !state.map) return;
  state.map.fitBounds(box, { padding: 80, maxZoom: 12, duration: 600 });
  showPopup(code, [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]);
  $$('#selected tbody tr').forEach((tr) => tr.classList.toggle('active', tr.dataset.code === code));
}

function legendList(colours, labels, cls = '') {
  return h('ul', { class: cls }, colours.map((c, i) => h('li', {}, h('span', { class: 'swatch', style: `background:${c}` }), labels[i])));
}

function renderLegend() {
  const items = [];
  if (state.mode === 'hex' && state.hex) {
    const hexLabels = CLASS_LABELS.score.map((l) => l[lang()] || l.en);
    items.push(h('h3', {}, t('legend_hex')), legendList(HEX_COLOURS, hexLabels, 'ramp'));
  } else if (state.mode === 'change') {
    const labels = CHANGE_COLOURS.map((_, i) => {
      const lo = CHANGE_BREAKS[i - 1];
      const hi = CHANGE_BREAKS[i];
      if (lo == null) return `< ${fmtSigned(hi, 3)} (${t('change_better')})`;
      if (hi == null) return `≥ ${fmtSigned(lo, 3)} (${t('change_worse')})`;
      return `${fmtSigned(lo, 3)} – ${fmtSigned(hi, 3)}`;
    });
    const [first, last] = [state.years?.[0], state.years?.[state.years.length - 1]];
    items.push(h('h3', {}, `${t('legend_change')} ${first ?? ''}→${last ?? ''}`), legendList(CHANGE_COLOURS, labels));
  } else {
    const labels = CLASS_LABELS.m0.map((l) => l[lang()] || l.en);
    items.push(h('h3', {}, t('legend_m0')), legendList(M0_COLOURS, labels));
    items.push(h('p', { class: 'note' }, `${t('map_m0_note')} (${$('#year').value || ''})`));
  }
  items.push(h('ul', {}, h('li', {}, h('span', { class: 'swatch outline' }), t('legend_selected'))));
  if (state.result?.summary?.excluded_kabupaten?.length) {
    items.push(h('ul', {}, h('li', {}, h('span', { class: 'swatch veiled' }), t('legend_excluded'))));
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

// ---------------------------------------------------------------- year on year (GET /changes)

const fmtSigned = (x, digits = 3) =>
  x == null || Number.isNaN(x) ? '—' : `${x > 0 ? '+' : x < 0 ? '−' : '±'}${fmtFix(Math.abs(x), digits)}`;
const fmtSignedInt = (x) => (x == null || Number.isNaN(x) ? '—' : `${x > 0 ? '+' : x < 0 ? '−' : '±'}${fmtNum(Math.abs(x))}`);
const poorPeople = (rate, population) => (rate == null || population == null ? null : (rate / 100) * population);

function changeYears() {
  const years = state.years ?? [];
  return years.length >= 2 ? [years[0], years[years.length - 1]] : null;
}

async function loadChanges() {
  const years = changeYears();
  $('#changes-title').textContent = years ? tf('changes_title', { from: years[0], to: years[1] }) : t('changes_one_year');
  if (!years) {
    $('#changes').classList.add('empty');
    return;
  }
  const level = $('#changes-level').value;
  const rankBy = $('#changes-rank').value;
  try {
    state.changes = await getJSON(`changes?from=${years[0]}&to=${years[1]}&level=${level}&rank_by=${rankBy}`);
  } catch (err) {
    showError(err.message);
    return;
  }
  renderChanges();
}

async function loadVillageChanges() {
  const years = changeYears();
  if (!years) return;
  try {
    const body = await getJSON(`changes?from=${years[0]}&to=${years[1]}&level=village&rank_by=M0`);
    state.villageChanges = new Map(body.units.map((u) => [u.village_code, u.M0_change]));
  } catch {
    return;
  }
  applyChanges();
}

function renderChanges() {
  const body = state.changes;
  const years = changeYears();
  if (years) $('#changes-title').textContent = tf('changes_title', { from: years[0], to: years[1] });
  if (!body) return;
  const level = body.level;
  const code = level === 'village' ? 'village_code' : 'kabupaten_code';
  const name = level === 'village' ? 'village_name' : 'kabupaten_name';
  const rankBy = body.rank_by;
  const units = body.units ?? [];
  const label = (u) => `${u[name]}${level === 'village' ? ` (${u.kabupaten_name})` : ''}`;
  const line = (u) => h('li', { 'data-code': u[code] }, `${label(u)}: ${rankBy} ${fmtSigned(u[`${rankBy}_change`], rankBy === 'poverty_rate' ? 2 : 3)}`);
  // Only a real fall counts as an improvement, only a real rise as a worsening.
  const change = (u) => u[`${rankBy}_change`];
  const ranked = units.filter((u) => change(u) != null);
  const none = () => [h('li', { class: 'none' }, '—')];
  const improved = ranked.filter((u) => change(u) < 0).slice(0, 5);
  const worsened = ranked.filter((u) => change(u) > 0).slice(-5).reverse();
  $('#most-improved').replaceChildren(...(improved.length ? improved.map(line) : none()));
  $('#most-worsened').replaceChildren(...(worsened.length ? worsened.map(line) : none()));
  const rows = units.slice(0, level === 'village' ? 300 : units.length).map((u) => {
    const before = poorPeople(u.poverty_rate_from, u.population_from);
    const after = poorPeople(u.poverty_rate_to, u.population_to);
    const click = level === 'village' ? { onclick: () => zoomTo(u[code]) } : {};
    return h('tr', { 'data-code': u[code], class: u[`${rankBy}_change`] < 0 ? 'better' : u[`${rankBy}_change`] > 0 ? 'worse' : '' },
      h('td', { class: 'num' }, u.rank ?? '—'),
      h('th', { scope: 'row' }, level === 'village' ? h('button', { type: 'button', class: 'village-link', ...click }, label(u)) : label(u)),
      h('td', { class: 'num' }, `${fmtFix(u.H_from)} → ${fmtFix(u.H_to)}`),
      h('td', { class: 'num' }, fmtSigned(u.H_change)),
      h('td', { class: 'num' }, `${fmtFix(u.M0_from)} → ${fmtFix(u.M0_to)}`),
      h('td', { class: 'num' }, fmtSigned(u.M0_change)),
      h('td', { class: 'num' }, `${fmtNum(before)} → ${fmtNum(after)}`),
      h('td', { class: 'num' }, fmtSignedInt(after == null || before == null ? null : after - before)));
  });
  $('#changes-table tbody').replaceChildren(...rows);
  updateScrollCues();
}

// ---------------------------------------------------------------- results

function driverCell(drivers) {
  const sorted = (drivers ?? []).map((d) => ({ ...d, share: d.share ?? 0 })).sort((a, b) => b.share - a.share);
  const bar = h('div', { class: 'driver-bar', 'aria-hidden': 'true' },
    sorted.map((d) => h('span', { style: `width:${(100 * d.share).toFixed(1)}%;background:var(--d-${d.dimension}, #999)`, title: `${t(d.dimension)} ${fmtPct(d.share, 0)}` })));
  const text = sorted.filter((d) => d.share >= 0.05).slice(0, 3).map((d) => `${t(d.dimension).toLowerCase()} ${fmtPct(d.share, 0)}`).join(', ');
  return h('td', {}, h('div', { class: 'drivers' }, bar, h('span', { class: 'driver-text' }, text || '—')));
}

/** Why a village is on the list: value per rupiah and its rank, and what would replace it. */
function whyCell(r, eligible) {
  const lines = [h('span', {}, tf('why_ratio', { ratio: fmtNum(r.value_per_million, 2), rank: r.value_per_rupiah_rank ?? '—', of: fmtNum(eligible) }))];
  const next = r.replace_by;
  if (next) {
    const never = next.people_needed != null && next.cost_allowed != null
      && (state.request?.cost_fixed ?? 0) + (state.request?.cost_per_person ?? 0) * next.people_needed > next.cost_allowed;
    lines.push(h('small', {}, never
      ? tf('why_replace_never', { next: next.village_name, cost: fmtRp(next.cost) })
      : tf('why_replace', { next: next.village_name, people: fmtNum(Math.ceil(next.people_needed ?? 0)), now: fmtNum(next.people_reached), cost: fmtRp(next.cost_allowed) })));
  }
  if (r.priority_gained) lines.push(h('span', { class: 'badge' }, t('priority_badge')));
  return h('td', { class: 'why' }, lines);
}

function statusMessage(res) {
  if (res.status === 'budget_too_small') {
    return tf('budget_too_small_msg', { budget: fmtRp(res.summary?.budget), cheapest: fmtRp(res.summary?.cheapest_cost) });
  }
  if (res.status === 'work_limit') return tf('work_limit_msg', { gap: fmtPct(res.gap, 2) });
  return tf('optimal_msg', { gap: fmtPct(res.gap ?? 0, 2) });
}

function renderSummary(res) {
  const s = res.summary ?? {};
  const small = (text) => h('small', {}, text);
  $('#s-n').replaceChildren(fmtNum(s.n_selected), small(`${t('of')} ${fmtNum(state.villages?.features.length)} ${t('villages_count')}`));
  $('#s-budget').replaceChildren(fmtPct(s.budget_used_share), small(`${fmtRp(s.total_cost)} ${t('of')} ${fmtRp(s.budget)}`));
  $('#s-people').replaceChildren(fmtNum(s.people_reached), small(t('people')));
  $('#s-coverage').replaceChildren(fmtPct(s.coverage), small(t('coverage_hint')));
  const optimal = res.status === 'optimal';
  const detail = `${t('gap')} ${fmtPct(res.gap, 2)} · ${fmtNum(res.solve_seconds, 2)} ${t('seconds')}`;
  $('#s-status').replaceChildren(h('span', { class: optimal ? 'status-optimal' : 'status-other' }, tValue('status', res.status)), small(detail));
  $('#summary').hidden = false;
  const message = $('#run-message');
  message.textContent = statusMessage(res);
  message.className = `run-message ${optimal ? 'ok' : 'warn'}`;
  message.hidden = false;

  const byKab = s.by_kabupaten ?? [];
  $('#by-kabupaten tbody').replaceChildren(...byKab.map((k) => h('tr', { 'data-code': k.kabupaten_code },
    h('th', { scope: 'row' }, k.kabupaten_name ?? k.kabupaten_code),
    h('td', { class: 'num' }, fmtNum(k.n_selected)),
    h('td', { class: 'num' }, fmtNum(k.people_reached)),
    h('td', { class: 'num' }, fmtRp(k.cost)),
    h('td', { class: 'num' }, fmtPct(k.coverage)))));
  $('#by-kabupaten').hidden = byKab.length === 0;

  const excluded = s.excluded_kabupaten ?? [];
  $('#excluded-note').textContent = tf('excluded_note', { names: excluded.map((k) => k.kabupaten_name).join(', ') });
  $('#excluded-note').hidden = excluded.length === 0;
  renderPriority(res);
}

function renderPriority(res) {
  const effect = res.priority_effect;
  const note = $('#priority-note');
  note.hidden = !effect;
  if (!effect) return;
  const groups = Object.entries(effect.priority).map(([g, v]) => `${t(g).toLowerCase()} ${fmtNum(v, 2)}`).join(', ');
  const names = (list) => list.map((v) => v.village_name).join(', ') || '—';
  const changed = effect.gained.length + effect.lost.length > 0;
  note.replaceChildren(
    h('strong', {}, changed ? tf('priority_effect', { groups, gained: effect.gained.length, lost: effect.lost.length }) : tf('priority_none', { groups })),
    changed ? h('span', { class: 'block' }, `${t('gained')}: ${names(effect.gained)}. ${t('lost')}: ${names(effect.lost)}.`) : null,
  );
}

function emptyRow(text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: 9 }, text));
}

function renderTable(res) {
  const eligible = Math.max(0, ...(res.selected ?? []).map((r) => r.value_per_rupiah_rank ?? 0), ...(res.below_line ?? []).map(() => 0));
  const rows = (res.selected ?? []).map((r) => h('tr', { 'data-code': r.village_code, class: r.priority_gained ? 'by-priority' : '' },
    h('td', { class: 'num' }, r.rank),
    h('th', { scope: 'row' },
      h('button', { type: 'button', class: 'village-link', title: t('show_on_map'), onclick: () => zoomTo(r.village_code) }, r.village_name),
      h('span', { class: 'code' }, `${r.village_code}${r.kecamatan_name ? ` · ${r.kecamatan_name}` : ''}`)),
    h('td', {}, r.kabupaten_name),
    h('td', { class: 'num' }, fmtNum(r.people_reached)),
    h('td', { class: 'num' }, fmtRp(r.cost)),
    h('td', { class: 'num' }, fmtFix(r.M0)),
    driverCell(r.drivers),
    whyCell(r, Math.max(eligible, state.villages?.features.length ?? 0)),
    h('td', { class: 'num' }, h('span', { class: 'conf' }, r.confidence == null ? '—' : fmtPct(r.confidence, 0)))));
  $('#selected tbody').replaceChildren(...(rows.length ? rows : [emptyRow(res.status === 'budget_too_small' ? statusMessage(res) : t('table_empty'))]));

  const below = res.below_line ?? [];
  $('#below-line tbody').replaceChildren(...below.map((r) => h('tr', { 'data-code': r.village_code, 'data-reason': r.reason },
    h('th', { scope: 'row' }, r.village_name, h('span', { class: 'code' }, r.village_code)),
    h('td', {}, r.kabupaten_name),
    h('td', { class: 'num' }, fmtNum(r.people_reached)),
    h('td', { class: 'num' }, fmtRp(r.cost)),
    h('td', { class: 'num' }, fmtFix(r.M0)),
    h('td', {}, tValue('reason', r.reason)))));
  $('#below-line').hidden = below.length === 0;
  updateScrollCues();
}

/** Show "scroll sideways" over a table only when it is wider than its box. */
function updateScrollCues() {
  for (const box of $$('.table-scroll')) {
    const wide = box.scrollWidth > box.clientWidth + 2;
    box.classList.toggle('overflowing', wide);
  }
}

function renderDownloadsLabel() {
  const links = $('#download-links');
  const label = links.querySelector('span.label');
  if (label) label.textContent = `${t('downloaded')} `;
}

/** The k choices as fractions with their percentage in the page's number format. */
function labelCutoffs() {
  const names = { 0.2: '1/5', 0.25: '1/4', 0.5: '1/2', 0.4: '2/5' };
  for (const o of $$('#k option')) o.textContent = `${names[o.value] ?? '1/3'} (${fmtPct(Number(o.value), 1)})`;
}

function render() {
  labelCutoffs();
  renderLegend();
  updateEchoes();
  renderChanges();
  $('#status-line').textContent = statusText();
  renderDownloadsLabel();
  if (state.popup) showPopup(state.popup.code, state.popup.lngLat);
  if (!state.result) return;
  renderSummary(state.result);
  renderTable(state.result);
  markStale();
}

/** Forget everything the previous run showed: results, links, popups, highlight, markers. */
function clearResults() {
  state.result = null;
  state.request = null;
  closePopup();
  for (const url of state.downloads.values()) URL.revokeObjectURL(url);
  state.downloads.clear();
  $('#download-links').replaceChildren();
  $$('.downloads button').forEach((b) => { b.disabled = true; });
  $('#summary').hidden = true;
  $('#run-message').hidden = true;
  $('#excluded-note').hidden = true;
  $('#priority-note').hidden = true;
  $('#by-kabupaten').hidden = true;
  $('#below-line').hidden = true;
  $('#below-line tbody').replaceChildren();
  $('#by-kabupaten tbody').replaceChildren();
  $('#selected tbody').replaceChildren(emptyRow(t('running_clear')));
  highlightSelection();
  renderLegend();
  markStale();
}

// ---------------------------------------------------------------- actions

async function run(event) {
  event?.preventDefault();
  clearError();
  let body;
  try {
    body = readRequest();
  } catch (err) {
    showError(err.message);
    document.body.dataset.state = 'error';
    return;
  }
  const runId = ++state.runId; // an older answer arriving late is dropped
  clearResults();
  const button = $('#run');
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  button.textContent = t('running');
  document.body.dataset.state = 'running';
  setStatus(() => t('running_clear'));
  try {
    const response = await request('targets', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const result = await response.json();
    if (runId !== state.runId) return;
    state.result = result;
    state.request = body;
    render();
    highlightSelection();
    fitSelection();
    $$('.downloads button').forEach((b) => { b.disabled = false; });
    const n = result.summary?.n_selected;
    setStatus(() => tf('status_line', { n: fmtNum(n), status: tValue('status', result.status) }));
    writeHash(true);
    document.body.dataset.state = 'done';
  } catch (err) {
    if (runId !== state.runId) return;
    showError(err instanceof ProblemError ? err.message : String(err));
    setStatus('');
    document.body.dataset.state = 'error';
  } finally {
    if (runId === state.runId) {
      button.disabled = false;
      button.removeAttribute('aria-busy');
      button.textContent = t('run');
    }
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
  const request_ = state.request;
  const runId = state.runId;
  button.disabled = true;
  button.textContent = t('downloading');
  try {
    const response = await request(`targets?f=${format}&lang=${lang()}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(request_),
    });
    const blob = await response.blob();
    if (runId !== state.runId) return; // a new run started meanwhile: this file is not its result
    const name = filenameFrom(response, `sasaran-targets-${request_.year ?? ''}.${format}`);
    if (state.downloads.has(format)) URL.revokeObjectURL(state.downloads.get(format));
    const url = URL.createObjectURL(blob);
    state.downloads.set(format, url);
    const link = h('a', { href: url, download: name, 'data-format': format }, `${name} (${fmtNum(blob.size / 1024, 1)} KB)`);
    const links = $('#download-links');
    links.querySelector(`a[data-format="${format}"]`)?.remove();
    if (!links.firstChild) links.append(h('span', { class: 'label' }, `${t('downloaded')} `));
    links.append(link);
    link.click();
  } catch (err) {
    showError(err instanceof ProblemError ? err.message : String(err));
  } finally {
    button.disabled = state.request == null;
    button.textContent = t(`download_${format}`);
  }
}

function switchLanguage() {
  const next = lang() === 'id' ? 'en' : 'id';
  setLang(next);
  try { localStorage.setItem('sasaran.lang', next); } catch { /* private mode: not remembered */ }
  translate();
  setToggleLabels();
  render();
  if (state.request) writeHash(true);
}

function setToggleLabels() {
  const controlsOpen = !$('#controls').classList.contains('collapsed');
  $('#controls-toggle').textContent = t(controlsOpen ? 'controls_hide' : 'controls_show');
  $('#controls-toggle').setAttribute('aria-expanded', String(controlsOpen));
  const legendOpen = !$('#map-overlay').classList.contains('collapsed');
  $('#legend-toggle').textContent = t(legendOpen ? 'legend_hide' : 'legend_show');
  $('#legend-toggle').setAttribute('aria-expanded', String(legendOpen));
}

function toggle(el, force) {
  el.classList.toggle('collapsed', force);
  setToggleLabels();
  updateScrollCues();
}

function wire() {
  $('#controls').addEventListener('submit', run);
  $('#rerun').addEventListener('click', () => run());
  $('#lang-toggle').addEventListener('click', switchLanguage);
  $('#controls').addEventListener('input', (e) => {
    updateEchoes();
    markStale();
    if (e.target.matches('#k, #year, #weights input')) refreshM0Soon();
  });
  $('#controls').addEventListener('change', markStale);
  $('#kab-all').addEventListener('click', () => { $$('#kabupaten-list input').forEach((el) => { el.checked = true; }); markStale(); });
  $('#kab-none').addEventListener('click', () => { $$('#kabupaten-list input').forEach((el) => { el.checked = false; }); markStale(); });
  $$('.downloads button').forEach((b) => b.addEventListener('click', () => download(b.dataset.format, b)));
  $$('input[name="map-mode"]').forEach((el) => el.addEventListener('change', () => { setMode(el.value); if (state.request) writeHash(true); }));
  $('#controls-toggle').addEventListener('click', () => toggle($('#controls')));
  $('#legend-toggle').addEventListener('click', () => toggle($('#map-overlay')));
  $('#changes-level').addEventListener('change', loadChanges);
  $('#changes-rank').addEventListener('change', loadChanges);
  window.addEventListener('resize', updateScrollCues);
}

async function init() {
  let saved = null;
  try { saved = localStorage.getItem('sasaran.lang'); } catch { /* ignore */ }
  const hashLang = new URLSearchParams(location.hash.slice(1)).get('lang');
  setLang(LANGS.includes(hashLang) ? hashLang : LANGS.includes(saved) ? saved : 'id');
  translate();
  wire();
  // On a phone the map comes first: settings and legend start folded.
  if (isPhone()) {
    $('#controls').classList.add('collapsed');
    $('#map-overlay').classList.add('collapsed');
  }
  setToggleLabels();
  labelCutoffs();
  updateEchoes();
  setStatus(() => t('loading'));
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
    const runNow = readHash();
    updateEchoes();
    renderLegend();
    initMap(villages, kabupaten);
    refreshM0();
    loadChanges();
    if (state.mode === 'change') loadVillageChanges();
    setStatus('');
    document.body.dataset.state = 'ready';
    if (runNow) run();
  } catch (err) {
    showError(err instanceof ProblemError ? err.message : String(err));
    setStatus('');
    document.body.dataset.state = 'error';
  }
}

init();
