// Sasaran planner: a plain ES module, no build step. A client of the service's own API:
//   GET  healthz, collections/villages, collections/{villages,kabupaten}/items (OGC API - Features)
//   GET  collections/hexagons/tiles/WebMercatorQuad/tilejson.json (+ MVT tiles), scores/village
//   POST targets?lang= (JSON), targets?f=csv|xlsx|gpkg|pdf&lang= (downloads), GET changes (year on year)
// URLs are relative to the page (/planner), so the page also works behind a path prefix.
//
// The page never shows a result that does not match it: every run clears the previous results,
// links and popups first; a change to any input marks the shown results as out of date and turns the
// downloads off; the whole page state (settings, locks, quotas, language, map mode) lives in the URL
// hash, so a shared link reproduces it. Numbers are the answer's own (rounded once by the service,
// layers/targeting/result.py); Intl.NumberFormat shows them in the page's language.
import { parseAmount, sayAmount } from './amounts.js';
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
// Fields whose defaults are the API's (layers/targeting/request.py), read from its OpenAPI schema.
const DEFAULTED = ['cost_fixed', 'cost_per_person', 'scenarios', 'seed', 'min_people', 'max_cost_per_person'];
// Amount fields: typed as planners write them (amounts.js), echoed in full.
const AMOUNTS = ['budget', 'cost_fixed', 'cost_per_person', 'max_cost_per_person'];
// Below this confidence a chosen village says why (layers/export/wording.py, LOW_CONFIDENCE).
const LOW_CONFIDENCE = 0.5;

const state = {
  villages: null, // GeoJSON FeatureCollection
  bounds: new Map(), // village_code -> [minx, miny, maxx, maxy]
  kabupaten: [], // [{code, name}]
  m0: new Map(), // village_code -> M0 under the current year/k/weights (from /scores/village)
  population: new Map(), // village_code -> people in the chosen year (from /scores/village)
  defaults: {}, // the API's defaults (OpenAPI)
  include: new Set(), // village codes locked in
  exclude: new Set(), // village codes locked out
  map: null,
  mapReady: false,
  hex: false,
  result: null,
  request: null, // the body that produced `result` (downloads repeat it)
  byVillage: new Map(), // village_code -> index in result.villages
  scenarioA: null, // {request, result}: the saved scenario the current one is compared with
  downloads: new Map(), // format -> object URL
  popup: null, // {code, lngLat, popup}: the open popup, re-rendered on a language switch
  markers: [], // rank markers of the selected villages and names of excluded kabupaten
  changes: null, // GET /changes answer shown in the year-on-year table
  villageChanges: new Map(), // village_code -> M0 change (map mode "change")
  mode: 'm0',
  breakdown: 'kabupaten',
  runId: 0,
};

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => [...document.querySelectorAll(sel)];

// ---------------------------------------------------------------- formatting

const nf = (digits = 0) => new Intl.NumberFormat(locale(), { maximumFractionDigits: digits });
const fmtNum = (x, digits = 0) => (x == null || Number.isNaN(x) ? '—' : nf(digits).format(x));
const fmtFix = (x, digits = 4) =>
  x == null || Number.isNaN(x)
    ? '—'
    : new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x);
// Shares are held with 4 decimals and shown with 2 as percentages: never rounded twice.
const fmtPct = (x, digits = 2) =>
  x == null || Number.isNaN(x)
    ? '—'
    : new Intl.NumberFormat(locale(), { style: 'percent', minimumFractionDigits: digits, maximumFractionDigits: digits }).format(x);
const fmtRp = (x) =>
  x == null || Number.isNaN(x)
    ? '—'
    : `Rp\u00a0${new Intl.NumberFormat(locale(), { maximumFractionDigits: 0 }).format(x)}`;

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

/** A pydantic message of the service in the page's language ("budget: Input should be ≥ 0"). */
function translateProblem(detail) {
  if (lang() !== 'id') return detail;
  const rules = [
    [/Input should be greater than or equal to (\S+)/, 'error_ge'],
    [/Input should be less than or equal to (\S+)/, 'error_le'],
    [/Input should be greater than (\S+)/, 'error_gt'],
  ];
  return detail.split('; ').map((part) => {
    for (const [pattern, key] of rules) {
      const m = pattern.exec(part);
      if (m) return `${part.split(':')[0]}: ${tf(key, { n: m[1] })}`;
    }
    return /Input should|Field required|Extra inputs/.test(part) ? `${part.split(':')[0]}: ${t('error_field')}` : part;
  }).join('; ');
}

async function problemOf(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    const detail = body.detail ?? body.title ?? text;
    return translateProblem(typeof detail === 'string' ? detail : JSON.stringify(detail));
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

const fieldLabel = (id) => $(`label[for="${id}"]`)?.textContent.trim() ?? id;

/** An amount field's value in rupiah (null when empty); throws ProblemError when it cannot be read. */
function amountOf(id) {
  const text = $(`#${id}`).value;
  const parsed = parseAmount(text);
  if (parsed.error) throw new ProblemError(tf(`amount_${parsed.error}`, { field: fieldLabel(id), text: text.trim() }));
  return parsed.value;
}

function updateEchoes() {
  for (const id of AMOUNTS) {
    const parsed = parseAmount($(`#${id}`).value);
    const echo = $(`#${id}-fmt`);
    echo.classList.toggle('bad', !!parsed.error);
    if (parsed.error) echo.textContent = tf(`amount_${parsed.error}`, { field: fieldLabel(id), text: $(`#${id}`).value.trim() });
    else echo.textContent = parsed.value == null ? (id === 'max_cost_per_person' ? t('no_limit') : '') : sayAmount(parsed.value, lang());
  }
  const w = weights();
  for (const d of DIMENSIONS) $(`#w_${d}-out`).textContent = fmtPct(w[d], 0);
  $('#dimension-field').hidden = $('#objective').value !== 'dimension';
  const d = state.defaults;
  $('#guards-hint').textContent = tf('guards_hint', {
    min: fmtNum(d.min_people ?? 10),
    max: d.max_cost_per_person == null ? t('no_limit') : fmtRp(d.max_cost_per_person),
  });
}

function numberOrNull(id) {
  const text = $(`#${id}`).value.trim();
  return text === '' ? null : Number(text);
}

/** A whole number >= minimum (or null when empty); throws ProblemError with `message` otherwise. */
function wholeOrNull(id, minimum, message, maximum = Infinity) {
  const value = numberOrNull(id);
  if (value != null && !(Number.isInteger(value) && value >= minimum && value <= maximum)) throw new ProblemError(t(message));
  return value;
}

/** The kabupaten quotas of the form: {only, min, max} (only: the eligible codes when some are not). */
function readQuotas() {
  const rows = $$('#kabupaten-list .quota-row');
  const checked = rows.filter((r) => r.querySelector('input[type="checkbox"]').checked).map((r) => r.dataset.code);
  const minimum = {};
  const maximum = {};
  for (const row of rows) {
    const code = row.dataset.code;
    const lo = row.querySelector('input[data-quota="min"]').value.trim();
    const hi = row.querySelector('input[data-quota="max"]').value.trim();
    const name = state.kabupaten.find((k) => k.code === code)?.name ?? code;
    const bad = (v) => v !== '' && !(Number.isInteger(Number(v)) && Number(v) >= 0);
    if (bad(lo) || bad(hi) || (lo !== '' && hi !== '' && Number(lo) > Number(hi))) throw new ProblemError(tf('error_quota', { kab: name }));
    if (lo !== '' && Number(lo) > 0 && checked.includes(code)) minimum[code] = Number(lo);
    if (hi !== '' && checked.includes(code)) maximum[code] = Number(hi);
  }
  return { only: checked.length < rows.length ? checked : null, minimum, maximum };
}

/** The POST /targets body from the form; throws ProblemError on a value the user must fix. */
function readRequest() {
  const budget = amountOf('budget');
  if (!(budget > 0)) throw new ProblemError(t('error_budget'));
  const quotas = readQuotas();
  if (state.kabupaten.length && quotas.only && quotas.only.length === 0) throw new ProblemError(t('error_no_kab'));
  const body = {
    year: Number($('#year').value) || undefined,
    objective: $('#objective').value,
    k: Number($('#k').value),
    dimension_weights: weights(),
    budget,
  };
  // Left empty, the cost model, the guards and the scenarios take the API's defaults (fillDefaults).
  for (const id of ['cost_fixed', 'cost_per_person']) {
    const value = amountOf(id);
    if (value != null) body[id] = value;
  }
  const limit = amountOf('max_cost_per_person');
  body.max_cost_per_person = limit; // empty: no guard (null)
  if (limit === 0) throw new ProblemError(tf('error_gt', { n: 0 }));
  const minPeople = wholeOrNull('min_people', 0, 'error_min_people');
  if (minPeople != null) body.min_people = minPeople;
  const scenarios = wholeOrNull('scenarios', 0, 'error_scenarios', 2000);
  if (scenarios != null) body.scenarios = scenarios;
  const seed = wholeOrNull('seed', 0, 'error_seed');
  if (seed != null) body.seed = seed;
  if (body.objective === 'dimension') body.dimension = $('#dimension').value;
  const maxVillages = numberOrNull('max_villages');
  if (maxVillages != null) {
    if (!(Number.isInteger(maxVillages) && maxVillages >= 1)) throw new ProblemError(t('error_max_villages'));
    body.max_villages = maxVillages;
  }
  const minScore = numberOrNull('min_score');
  if (minScore != null) {
    if (!(minScore >= 0 && minScore <= 1)) throw new ProblemError(t('error_min_score'));
    body.min_score = minScore;
  }
  if (quotas.only) body.kabupaten = quotas.only;
  if (Object.keys(quotas.minimum).length) body.kabupaten_min = quotas.minimum;
  if (Object.keys(quotas.maximum).length) body.kabupaten_max = quotas.maximum;
  if (state.include.size) body.include = [...state.include].sort();
  if (state.exclude.size) body.exclude = [...state.exclude].sort();
  const priority = {};
  for (const el of $$('[data-priority]')) {
    const value = Number(el.value || 0);
    if (!(value >= 0 && value <= 100)) throw new ProblemError(t('error_priority'));
    if (value > 0) priority[el.dataset.priority] = value;
  }
  if (Object.keys(priority).length) body.priority = priority;
  const title = $('#title').value.trim();
  if (title) body.title = title.slice(0, 120);
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

/** Mark the shown results out of date when the form no longer describes them; downloads go off. */
function markStale() {
  const stale = state.request != null && formKey() !== JSON.stringify(state.request);
  $('#stale').hidden = !stale;
  $('#results').classList.toggle('is-stale', stale);
  document.body.dataset.stale = String(stale);
  for (const b of $$('.downloads button')) {
    b.disabled = state.request == null || stale;
    b.title = stale ? t('stale_download') : '';
  }
  for (const a of $$('#download-links a')) a.classList.toggle('outdated', stale);
  for (const s of $$('#download-links .outdated-mark')) s.hidden = !stale;
}

/** Show the API's defaults (cost model, guards, scenarios) in the empty fields: one definition, server side. */
async function fillDefaults() {
  const schema = await getJSON('openapi').catch(() => null);
  const fields = schema?.components?.schemas?.TargetRequest?.properties ?? {};
  for (const id of DEFAULTED) {
    const value = fields[id]?.default;
    if (value === undefined) continue;
    state.defaults[id] = value;
    if ($(`#${id}`).value !== '' || value == null) continue;
    $(`#${id}`).value = AMOUNTS.includes(id) ? new Intl.NumberFormat('id-ID').format(value) : String(value);
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
  $('#kabupaten-list').replaceChildren(...state.kabupaten.map((k) => {
    const id = `kab-${k.code}`;
    return h('div', { class: 'quota-row', 'data-code': k.code },
      h('input', { type: 'checkbox', id, value: k.code, checked: true, name: 'kabupaten' }),
      h('label', { for: id }, k.name),
      h('input', { type: 'number', min: 0, step: 1, 'data-quota': 'min', 'aria-label': `${k.name}: ${t('quota_min')}`, placeholder: t('quota_min'), inputmode: 'numeric' }),
      h('input', { type: 'number', min: 0, step: 1, 'data-quota': 'max', 'aria-label': `${k.name}: ${t('quota_max')}`, placeholder: t('quota_max'), inputmode: 'numeric' }),
      h('button', { type: 'button', class: 'small only', 'data-code': k.code, onclick: () => onlyKabupaten(k.code) }, t('only_this')));
  }));
}

/** Keep one kabupaten eligible (the page's "--kabupaten 6204"). */
function onlyKabupaten(code) {
  for (const el of $$('#kabupaten-list input[type="checkbox"]')) el.checked = el.value === code;
  markStale();
}

function relabelQuotas() {
  for (const row of $$('#kabupaten-list .quota-row')) {
    const name = row.querySelector('label').textContent;
    for (const [key, el] of [['quota_min', row.querySelector('[data-quota="min"]')], ['quota_max', row.querySelector('[data-quota="max"]')]]) {
      el.placeholder = t(key);
      el.setAttribute('aria-label', `${name}: ${t(key)}`);
    }
    row.querySelector('button.only').textContent = t('only_this');
  }
}

// ---------------------------------------------------------------- locks (include / exclude)

function villageName(code) {
  return villageProps(code)?.village_name ?? code;
}

function lock(code, how) {
  state.include.delete(code);
  state.exclude.delete(code);
  if (how === 'in') state.include.add(code);
  if (how === 'out') state.exclude.add(code);
  renderLocks();
  markStale();
  if (state.popup?.code === code) showPopup(code, state.popup.lngLat);
}

function renderLocks() {
  const items = [
    ...[...state.include].sort().map((c) => [c, 'locked_in']),
    ...[...state.exclude].sort().map((c) => [c, 'locked_out']),
  ].map(([code, kind]) => h('li', { 'data-code': code, 'data-lock': kind === 'locked_in' ? 'in' : 'out', class: kind },
    h('span', {}, `${villageName(code)} · ${t(kind)}`),
    h('button', { type: 'button', class: 'small', 'aria-label': `${t('unlock')}: ${villageName(code)}`, onclick: () => lock(code, null) }, '✕')));
  $('#locks').replaceChildren(...(items.length ? items : [h('li', { class: 'none' }, t('locks_none'))]));
}

// ---------------------------------------------------------------- the page state in the URL

// Short keys keep a shared link readable: #b=5.000.000.000&y=2024&k=0.3333&o=mpi_poor&w=25,25,25,25&run=1
const FIELDS = {
  y: 'year', k: 'k', o: 'objective', dim: 'dimension', b: 'budget', cf: 'cost_fixed', cp: 'cost_per_person',
  mv: 'max_villages', sc: 'scenarios', ms: 'min_score', seed: 'seed', mp: 'min_people', mc: 'max_cost_per_person', t: 'title',
};

function writeHash(ran) {
  const params = new URLSearchParams();
  for (const [key, id] of Object.entries(FIELDS)) {
    const value = $(`#${id}`).value.trim();
    if (value !== '' || id === 'max_cost_per_person') params.set(key, value);
  }
  params.set('w', DIMENSIONS.map((d) => $(`#w_${d}`).value).join(','));
  const out = $$('#kabupaten-list input[type="checkbox"]:not(:checked)').map((el) => el.value);
  if (out.length) params.set('x', out.join(','));
  const quotas = $$('#kabupaten-list .quota-row').map((r) => [r.dataset.code, r.querySelector('[data-quota="min"]').value, r.querySelector('[data-quota="max"]').value])
    .filter(([, lo, hi]) => lo !== '' || hi !== '').map(([c, lo, hi]) => `${c}:${lo}:${hi}`);
  if (quotas.length) params.set('q', quotas.join(','));
  if (state.include.size) params.set('inc', [...state.include].join(','));
  if (state.exclude.size) params.set('exc', [...state.exclude].join(','));
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
  for (const el of $$('#kabupaten-list input[type="checkbox"]')) el.checked = !out.has(el.value);
  for (const item of (params.get('q') ?? '').split(',').filter(Boolean)) {
    const [code, lo, hi] = item.split(':');
    const row = $(`#kabupaten-list .quota-row[data-code="${CSS.escape(code)}"]`);
    if (!row) continue;
    row.querySelector('[data-quota="min"]').value = lo ?? '';
    row.querySelector('[data-quota="max"]').value = hi ?? '';
  }
  state.include = new Set((params.get('inc') ?? '').split(',').filter(Boolean));
  state.exclude = new Set((params.get('exc') ?? '').split(',').filter(Boolean));
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
    $('#map').replaceChildren(h('p', { class: 'map-fallback' }, t('map_unavailable')));
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
    $('#map').replaceChildren(h('p', { class: 'map-fallback' }, tf('webgl_error', { message: err.message })));
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

const perMillionWord = (res) => t(res?.weighted ? 'per_million_score' : 'per_million_people');

/** A village's true reason under the shown result, in a sentence (chosen or not). */
function reasonSentence(code) {
  const res = state.result;
  const i = state.byVillage.get(code);
  if (!res || i == null) return null;
  const v = res.villages;
  const status = v.status[i];
  const p = res.parameters;
  const props = villageProps(code) ?? {};
  const costPP = v.people_reached[i] > 0 ? v.cost[i] / v.people_reached[i] : null;
  const row = res.selected.find((r) => r.village_code === code);
  return tf(`sentence_${status}`, {
    rank: row?.rank ?? '—',
    people: fmtNum(v.people_reached[i]),
    cost: fmtRp(v.cost[i]),
    cost_pp: fmtRp(costPP == null ? null : Math.round(costPP)),
    ratio: fmtFix(v.value_per_million[i], 2),
    per: perMillionWord(res),
    left: fmtRp(res.summary.budget_left),
    kab: props.kabupaten_name ?? '',
    m0: fmtFix(v.M0[i]),
    min: fmtNum(p.min_people),
    max: fmtRp(p.max_cost_per_person),
  });
}

function showPopup(code, lngLat) {
  const p = villageProps(code);
  if (!p || !state.map) return;
  closePopup();
  const res = state.result;
  const i = state.byVillage.get(code);
  const change = state.villageChanges.get(code);
  // the values of the year shown: the result's when there is one, else /scores/village for the year
  const m0 = i != null ? res.villages.M0[i] : state.m0.get(code) ?? p.M0;
  const population = i != null ? res.villages.population[i] : state.population.get(code) ?? p.population;
  const year = res?.year ?? $('#year').value;
  const locked = state.include.has(code) ? 'in' : state.exclude.has(code) ? 'out' : null;
  const facts = [
    h('dt', {}, t('kab')), h('dd', {}, p.kabupaten_name),
    h('dt', {}, t('popup_kecamatan')), h('dd', {}, p.kecamatan_name ?? '—'),
    h('dt', {}, `${t('popup_m0')} (${year})`), h('dd', { 'data-field': 'M0' }, fmtFix(m0)),
    h('dt', {}, `${t('popup_population')} (${year})`), h('dd', { 'data-field': 'population' }, fmtNum(population)),
  ];
  if (i != null) {
    facts.push(
      h('dt', {}, t('popup_people')), h('dd', { 'data-field': 'people_reached' }, fmtNum(res.villages.people_reached[i])),
      h('dt', {}, t('popup_cost')), h('dd', { 'data-field': 'cost' }, fmtRp(res.villages.cost[i])),
      h('dt', {}, t('popup_ratio')), h('dd', { 'data-field': 'value_per_million' }, `${fmtFix(res.villages.value_per_million[i], 2)} ${perMillionWord(res)}`),
    );
  }
  if (change != null) facts.push(h('dt', {}, 'ΔM0'), h('dd', {}, fmtSigned(change, 4)));
  const content = h(
    'div', { class: 'popup', 'data-code': code, 'data-status': i != null ? res.villages.status[i] : '' },
    h('h3', {}, p.village_name),
    h('dl', {}, facts),
    h('p', { class: 'popup-reason' }, reasonSentence(code) ?? t('popup_before_run')),
    h('div', { class: 'popup-actions' },
      h('button', { type: 'button', class: `small${locked === 'in' ? ' on' : ''}`, 'data-lock': 'in', 'aria-pressed': String(locked === 'in'), onclick: () => lock(code, locked === 'in' ? null : 'in') }, t('lock_in')),
      h('button', { type: 'button', class: `small${locked === 'out' ? ' on' : ''}`, 'data-lock': 'out', 'aria-pressed': String(locked === 'out'), onclick: () => lock(code, locked === 'out' ? null : 'out') }, t('lock_out'))),
  );
  const popup = new maplibregl.Popup({ maxWidth: '19rem' }).setLngLat(lngLat).setDOMContent(content).addTo(state.map);
  state.popup = { code, lngLat, popup };
  // On a phone the legend would cover the popup: fold the overlay away while a popup is open.
  $('#map-overlay').classList.toggle('under-popup', isPhone());
  popup.on('close', () => {
    if (state.popup?.popup === popup) state.popup = null;
    $('#map-overlay').classList.remove('under-popup');
  });
  // The map clips what lies outside it: a popup near its edge (on a phone, most of them) would
  // hide its lock buttons. Once the map stops moving, pan so the whole popup is inside.
  if (state.map.isMoving()) state.map.once('moveend', () => panToPopup(popup));
  else panToPopup(popup);
}

/** Pan the map (at once) so that the popup lies inside it, its top first when it cannot fit. */
function panToPopup(popup) {
  if (!popup.isOpen()) return;
  const box = popup.getElement().getBoundingClientRect();
  const container = state.map.getContainer();
  const frame = container.getBoundingClientRect();
  const margin = 8;
  // The map's controls (zoom buttons above, scale and attribution below) are drawn over popups:
  // kept clear of those beside the popup, when the popup fits between them.
  const controls = (where) => Math.max(0, ...[...container.querySelectorAll(`.maplibregl-ctrl-${where}-left, .maplibregl-ctrl-${where}-right`)]
    .map((el) => el.getBoundingClientRect())
    .filter((r) => r.left < box.right && r.right > box.left)
    .map((r) => r.height));
  let [top, bottom] = [controls('top') + margin, controls('bottom') + margin];
  if (box.height + top + bottom > frame.height) [top, bottom] = [margin, margin];
  const shift = (low, high, frameLow, frameHigh, lowMargin, highMargin) => {
    if (low - lowMargin < frameLow) return low - lowMargin - frameLow;
    if (high + highMargin > frameHigh) return Math.min(high + highMargin - frameHigh, low - lowMargin - frameLow);
    return 0;
  };
  const dx = shift(box.left, box.right, frame.left, frame.right, margin, margin);
  const dy = shift(box.top, box.bottom, frame.top, frame.bottom, top, bottom);
  if (dx || dy) state.map.panBy([dx, dy], { duration: 0 });
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
  const population = new Map();
  try {
    let url = `scores/village?${params}`;
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const body = await getJSON(url);
      for (const u of body.units ?? []) {
        m0.set(u.id, u.M0);
        population.set(u.id, u.population);
      }
      url = body.links?.find((l) => l.rel === 'next')?.href ?? null;
    }
  } catch {
    return; // keep the stored M0: the map is context, the selection is what matters
  }
  state.m0 = m0;
  state.population = population; // the year's people: popups before a run show this year's
  applyM0();
  renderLegend();
}

// ---------------------------------------------------------------- year on year (GET /changes)

const fmtSigned = (x, digits = 4) =>
  x == null || Number.isNaN(x) ? '—' : `${x > 0 ? '+' : x < 0 ? '−' : '±'}${fmtFix(Math.abs(x), digits)}`;
const fmtSignedInt = (x) => (x == null || Number.isNaN(x) ? '—' : `${x > 0 ? '+' : x < 0 ? '−' : '±'}${fmtNum(Math.abs(x))}`);

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

const CHANGE_KEYS = {
  village: ['village_code', 'village_name'],
  kecamatan: ['kecamatan_code', 'kecamatan_name'],
  kabupaten: ['kabupaten_code', 'kabupaten_name'],
};

/** An indicator's value as its unit reads: shares (0-1) as percentages, the rest as they are. */
function indicatorValue(value, title) {
  if (value == null) return '—';
  return value <= 1 && /%/.test(title ?? '') ? fmtPct(value, 1) : `${fmtNum(value, 2)}${/%/.test(title ?? '') ? '%' : ''}`;
}

function crossingLine(u, titles) {
  const names = (u.crossing ?? '').split(', ');
  const title = (name) => titles?.[name]?.[lang()] ?? name;
  if (names.length > 1 || u.crossing_from == null) {
    return tf('crossing_many', { name: u.village_name, indicators: names.map(title).join('; ') });
  }
  const label = title(names[0]).replace(/\s*[<>].*$/, ''); // the indicator's name; its cutoff is said apart
  return tf('crossing_line', {
    name: u.village_name, indicator: label,
    from: indicatorValue(u.crossing_from, title(names[0])), to: indicatorValue(u.crossing_to, title(names[0])),
    cutoff: indicatorValue(u.crossing_cutoff, title(names[0])), h_from: fmtFix(u.H_from, 2), h_to: fmtFix(u.H_to, 2),
  });
}

function renderChanges() {
  const body = state.changes;
  const years = changeYears();
  if (years) $('#changes-title').textContent = tf('changes_title', { from: years[0], to: years[1] });
  if (!body) return;
  const level = body.level;
  const [code, name] = CHANGE_KEYS[level];
  const rankBy = body.rank_by;
  const units = body.units ?? [];
  const label = (u) => `${u[name]}${level !== 'kabupaten' ? ` (${u.kabupaten_name})` : ''}`;
  const line = (u) => h('li', { 'data-code': u[code] }, `${label(u)}: ${rankBy} ${fmtSigned(u[`${rankBy}_change`], rankBy === 'poverty_rate' ? 2 : 4)}`);
  // Only a real fall counts as an improvement, only a real rise as a worsening; a cut-off crossing
  // (rank null) is neither: it is listed apart with the indicator that crossed.
  const change = (u) => u[`${rankBy}_change`];
  const ranked = units.filter((u) => change(u) != null && u.rank != null);
  const none = () => [h('li', { class: 'none' }, '—')];
  const improved = ranked.filter((u) => change(u) < 0).slice(0, 5);
  const worsened = ranked.filter((u) => change(u) > 0).slice(-5).reverse();
  $('#most-improved').replaceChildren(...(improved.length ? improved.map(line) : none()));
  $('#most-worsened').replaceChildren(...(worsened.length ? worsened.map(line) : none()));
  const cliffs = level === 'village' ? units.filter((u) => u.crossing && u.rank == null) : [];
  $('#crossings').hidden = cliffs.length === 0;
  $('#crossings-summary').textContent = tf('crossings_summary', { n: fmtNum(cliffs.length) });
  $('#crossings-list').replaceChildren(...cliffs.slice(0, 200).map((u) => h('li', { 'data-code': u.village_code }, crossingLine(u, body.indicator_titles))));
  const rows = units.slice(0, level === 'kabupaten' ? units.length : 300).map((u) => {
    const click = level === 'village' ? { onclick: () => zoomTo(u[code]) } : {};
    return h('tr', { 'data-code': u[code], class: change(u) < 0 && u.rank != null ? 'better' : change(u) > 0 && u.rank != null ? 'worse' : '' },
      h('td', { class: 'num' }, u.rank ?? h('small', {}, t('not_ranked'))),
      h('th', { scope: 'row' }, level === 'village' ? h('button', { type: 'button', class: 'village-link', ...click }, label(u)) : label(u)),
      h('td', { class: 'num' }, `${fmtFix(u.H_from)} → ${fmtFix(u.H_to)}`),
      h('td', { class: 'num' }, fmtSigned(u.H_change)),
      h('td', { class: 'num' }, `${fmtFix(u.M0_from)} → ${fmtFix(u.M0_to)}`),
      h('td', { class: 'num' }, fmtSigned(u.M0_change)),
      h('td', { class: 'num' }, `${fmtNum(u.poor_population_from)} → ${fmtNum(u.poor_population_to)}`),
      h('td', { class: 'num' }, fmtSignedInt(u.poor_population_change)));
  });
  $('#changes-table tbody').replaceChildren(...rows);
  updateScrollCues();
}

// ---------------------------------------------------------------- results

function driverBar(drivers) {
  const sorted = (drivers ?? []).map((d) => ({ ...d, share: d.share ?? 0 })).sort((a, b) => b.share - a.share);
  const bar = h('div', { class: 'driver-bar', 'aria-hidden': 'true' },
    sorted.map((d) => h('span', { style: `width:${(100 * d.share).toFixed(1)}%;background:var(--d-${d.dimension}, #999)`, title: `${t(d.dimension)} ${fmtPct(d.share, 0)}` })));
  const text = sorted.filter((d) => d.share >= 0.05).slice(0, 3).map((d) => `${t(d.dimension).toLowerCase()} ${fmtPct(d.share, 0)}`).join(', ');
  return [bar, h('span', { class: 'driver-text' }, text || '—')];
}

/** Why a village is on the list: its drivers, value per rupiah and rank, what would replace it. */
function whyCell(r, res) {
  const lines = [...driverBar(r.drivers)];
  lines.push(h('span', { class: 'ratio' }, tf('why_line', { ratio: fmtFix(r.value_per_million, 2), per: perMillionWord(res), rank: r.value_per_rupiah_rank ?? '—', of: fmtNum(res.summary.candidates) })));
  const next = r.replace_by;
  if (next) {
    const never = next.cost_allowed != null && next.cost > next.cost_allowed;
    const needed = next.people_needed != null ? `≥ ${fmtNum(next.people_needed)} ${t('people')}` : `${t('score').toLowerCase()} > ${fmtNum(next.value_needed, 2)}`;
    const now = next.people_needed != null ? fmtNum(next.people_reached) : fmtNum(next.value, 2);
    lines.push(h('small', {}, never
      ? tf('why_replace_never', { next: next.village_name, cost: fmtRp(next.cost) })
      : tf('why_replace', { next: next.village_name, people: needed, now, cost: fmtRp(next.cost_allowed) })));
  }
  if (r.priority_gained) lines.push(h('span', { class: 'badge' }, t('priority_badge')));
  if (r.confidence != null && r.confidence < LOW_CONFIDENCE) lines.push(h('small', { class: 'low-confidence' }, t('low_confidence')));
  return h('td', { class: 'why' }, lines);
}

function statusMessage(res) {
  if (res.status === 'budget_too_small') {
    return tf('budget_too_small_msg', { budget: fmtRp(res.summary?.budget), cheapest: fmtRp(res.summary?.cheapest_cost) });
  }
  if (res.status === 'work_limit') return tf('work_limit_msg', { gap: fmtPct(res.gap, 3) });
  return tf('optimal_msg', { gap: fmtPct(res.gap ?? 0, 3) });
}

function renderSummary(res) {
  const s = res.summary ?? {};
  const small = (text) => h('small', {}, text);
  $('#s-n').replaceChildren(fmtNum(s.n_selected), small(`${t('of')} ${fmtNum(state.villages?.features.length)} ${t('villages_count')}`));
  $('#s-budget').replaceChildren(fmtPct(s.budget_used_share), small(`${fmtRp(s.total_cost)} ${t('of')} ${fmtRp(s.budget)}`));
  $('#s-people').replaceChildren(fmtNum(s.people_reached), small(t('people')));
  $('#score-card').hidden = !res.weighted;
  $('#s-score').replaceChildren(fmtFix(s.score, 2));
  $('#s-coverage').replaceChildren(fmtPct(s.coverage), small(t('coverage_hint')));
  const optimal = res.status === 'optimal';
  const detail = `${t('gap')} ${fmtPct(res.gap, 3)} · ${fmtNum(res.solve_seconds, 2)} ${t('seconds')}`;
  $('#s-status').replaceChildren(h('span', { class: optimal ? 'status-optimal' : 'status-other' }, tValue('status', res.status)), small(detail));
  $('#summary').hidden = false;
  const message = $('#run-message');
  message.textContent = statusMessage(res);
  message.className = `run-message ${optimal ? 'ok' : 'warn'}`;
  message.hidden = false;
  const title = res.parameters?.title;
  $('#programme-line').hidden = !title;
  $('#programme-line').textContent = title ?? '';

  const guards = s.guards;
  $('#guard-note').textContent = tf('guard_note', {
    min: fmtNum(guards?.min_people?.value ?? 0),
    max: guards?.max_cost_per_person?.value == null ? t('no_limit') : fmtRp(guards.max_cost_per_person.value),
    n: fmtNum((guards?.min_people?.excluded ?? 0) + (guards?.max_cost_per_person?.excluded ?? 0)),
  });
  $('#guard-note').hidden = !guards;
  const excluded = s.excluded_kabupaten ?? [];
  $('#excluded-note').textContent = tf('excluded_note', { names: excluded.map((k) => k.kabupaten_name).join(', ') });
  $('#excluded-note').hidden = excluded.length === 0;
  renderPriority(res);
  renderBreakdown(res);
  renderGuarded(res);
}

function renderPriority(res) {
  const effect = res.priority_effect;
  const note = $('#priority-note');
  note.hidden = !effect;
  if (!effect) return;
  const groups = Object.entries(effect.priority).map(([g, v]) => `${t(g).toLowerCase()} ${fmtNum(v, 4)}`).join(', ');
  const said = tf(effect.changed ? 'priority_changed' : 'priority_unchanged', {
    groups, with: fmtFix(effect.value_with, 2), without: fmtFix(effect.value_without, 2), tolerance: fmtPct(effect.tolerance, 1),
  });
  const listed = (villages) => villages.map((v) => h('li', { 'data-code': v.village_code },
    tf('effect_village', { name: v.village_name, without: fmtFix(v.value_without, 2), with: fmtFix(v.value_with, 2) })));
  const parts = [h('strong', { class: 'block' }, said)];
  if (effect.gained.length) parts.push(h('div', { class: 'effect' }, h('span', {}, `${t('gained')}:`), h('ul', { class: 'gained' }, listed(effect.gained))));
  if (effect.lost.length) parts.push(h('div', { class: 'effect' }, h('span', {}, `${t('lost')}:`), h('ul', { class: 'lost' }, listed(effect.lost))));
  note.replaceChildren(...parts);
}

function emptyRow(text) {
  return h('tr', { class: 'empty' }, h('td', { colspan: 8 }, text));
}

function renderTable(res) {
  const weighted = !!res.weighted;
  for (const el of $$('#selected .score-col')) el.hidden = !weighted;
  const rows = (res.selected ?? []).map((r) => h('tr', { 'data-code': r.village_code, class: r.priority_gained ? 'by-priority' : '', 'data-confidence': r.confidence ?? '' },
    h('td', { class: 'num' }, r.rank),
    h('th', { scope: 'row' },
      h('button', { type: 'button', class: 'village-link', title: t('show_on_map'), onclick: () => zoomTo(r.village_code) }, r.village_name),
      h('span', { class: 'code' }, `${r.village_code} · ${r.kecamatan_name}`),
      h('span', { class: 'code' }, r.kabupaten_name)),
    h('td', { class: 'num', 'data-field': 'people_reached' }, fmtNum(r.people_reached)),
    h('td', { class: 'num score-col', hidden: !weighted }, fmtFix(r.score, 2)),
    h('td', { class: 'num', 'data-field': 'cost' }, fmtRp(r.cost), h('small', { class: 'code' }, `${fmtRp(r.cost_per_person_reached)} / ${t('people')}`)),
    h('td', { class: 'num' }, fmtFix(r.M0)),
    whyCell(r, res),
    h('td', { class: 'num', 'data-field': 'confidence' }, h('span', { class: 'conf' }, r.confidence == null ? '—' : fmtPct(r.confidence, 0)))));
  $('#selected tbody').replaceChildren(...(rows.length ? rows : [emptyRow(res.status === 'budget_too_small' ? statusMessage(res) : t('table_empty'))]));
  const s = res.summary;
  $('#selected tfoot').hidden = rows.length === 0;
  $('#selected-total').replaceChildren(
    h('th', { scope: 'row', colspan: 2 }, t('total')),
    h('td', { class: 'num', 'data-field': 'people_reached' }, fmtNum(s.people_reached)),
    h('td', { class: 'num score-col', hidden: !weighted }, fmtFix(s.score, 2)),
    h('td', { class: 'num', 'data-field': 'cost' }, fmtRp(s.total_cost)),
    h('td', { colspan: 3 }));

  const below = res.below_line ?? [];
  $('#below-line tbody').replaceChildren(...below.map((r) => h('tr', { 'data-code': r.village_code, 'data-reason': r.reason },
    h('th', { scope: 'row' }, h('button', { type: 'button', class: 'village-link', onclick: () => zoomTo(r.village_code) }, r.village_name),
      h('span', { class: 'code' }, `${r.village_code} · ${r.kabupaten_name}`)),
    h('td', { class: 'num' }, fmtNum(r.people_reached)),
    h('td', { class: 'num' }, fmtRp(r.cost)),
    h('td', { class: 'num' }, fmtFix(r.M0)),
    h('td', { class: 'reason' }, reasonSentence(r.village_code) ?? tValue('reason', r.reason)))));
  $('#below-line').hidden = below.length === 0;
  updateScrollCues();
}

/** The breakdown by kabupaten/kota or by kecamatan (where villages are chosen), with its total. */
function renderBreakdown(res) {
  const level = $('#breakdown-level').value;
  const all = level === 'kecamatan' ? res.summary.by_kecamatan : res.summary.by_kabupaten;
  const areas = level === 'kecamatan' ? all.filter((a) => a.n_selected > 0) : all;
  const weighted = !!res.weighted;
  const heads = [level === 'kecamatan' ? t('kecamatan') : t('kab'), ...(level === 'kecamatan' ? [t('kab')] : []), t('n_selected'), t('people_reached'), ...(weighted ? [t('score')] : []), t('cost'), t('coverage')];
  $('#breakdown thead tr').replaceChildren(...heads.map((x, i) => h('th', { scope: 'col', class: i >= (level === 'kecamatan' ? 2 : 1) ? 'num' : '' }, x)));
  const cells = (a) => [
    ...(level === 'kecamatan' ? [h('td', {}, a.kabupaten_name)] : []),
    h('td', { class: 'num', 'data-field': 'n_selected' }, fmtNum(a.n_selected)),
    h('td', { class: 'num', 'data-field': 'people_reached' }, fmtNum(a.people_reached)),
    ...(weighted ? [h('td', { class: 'num' }, fmtFix(a.score, 2))] : []),
    h('td', { class: 'num', 'data-field': 'cost' }, fmtRp(a.cost)),
    h('td', { class: 'num' }, fmtPct(a.coverage))];
  $('#breakdown tbody').replaceChildren(...areas.map((a) => h('tr', { 'data-code': level === 'kecamatan' ? a.kecamatan_code : a.kabupaten_code },
    h('th', { scope: 'row' }, level === 'kecamatan' ? a.kecamatan_name : a.kabupaten_name), ...cells(a))));
  const sum = (key) => areas.reduce((x, a) => x + (a[key] ?? 0), 0);
  const total = { n_selected: sum('n_selected'), people_reached: sum('people_reached'), score: Math.round(100 * sum('score')) / 100, cost: sum('cost'), kabupaten_name: '' };
  const base = sum('objective_total');
  total.coverage = level === 'kecamatan' ? null : base ? Math.round((10000 * total.people_reached) / base) / 10000 : null;
  $('#breakdown tfoot tr').replaceChildren(h('th', { scope: 'row' }, t('total')), ...cells(total));
  $('#breakdown').hidden = areas.length === 0;
}

function renderGuarded(res) {
  const guarded = res.guarded ?? [];
  $('#guarded').hidden = guarded.length === 0;
  $('#guarded-summary').textContent = tf('guarded_summary', { n: fmtNum(guarded.length) });
  $('#guarded-list').replaceChildren(...guarded.slice(0, 200).map((g) => h('li', { 'data-code': g.village_code, 'data-reason': g.reason },
    h('button', { type: 'button', class: 'village-link', onclick: () => zoomTo(g.village_code) }, g.village_name), ` (${g.kabupaten_name}): `, reasonSentence(g.village_code))));
}

/** Scenario A (saved) and B (the current result) side by side: totals, what B adds and drops. */
function renderCompare() {
  const a = state.scenarioA?.result;
  const b = state.result;
  $('#compare').hidden = !(a && b);
  $('#clear-a').hidden = !a;
  if (!a || !b) return;
  const lines = [
    ['compare_villages', (r) => r.summary.n_selected, (x) => fmtNum(x), (x) => fmtSignedInt(x)],
    ['compare_people', (r) => r.summary.people_reached, (x) => fmtNum(x), (x) => fmtSignedInt(x)],
    ['compare_cost', (r) => r.summary.total_cost, (x) => fmtRp(x), (x) => `${x < 0 ? '−' : '+'}${fmtRp(Math.abs(x))}`],
    ['compare_coverage', (r) => r.summary.coverage, (x) => fmtPct(x), (x) => `${x < 0 ? '−' : '+'}${fmtPct(Math.abs(x))}`],
  ];
  $('#compare-table tbody').replaceChildren(...lines.map(([key, get, show, diff]) => h('tr', { 'data-key': key },
    h('th', { scope: 'row' }, t(key)), h('td', { class: 'num' }, show(get(a))), h('td', { class: 'num' }, show(get(b))),
    h('td', { class: 'num' }, get(a) == null || get(b) == null ? '—' : diff(get(b) - get(a))))));
  const inA = new Set(a.selected.map((r) => r.village_code));
  const inB = new Set(b.selected.map((r) => r.village_code));
  const adds = b.selected.filter((r) => !inA.has(r.village_code));
  const drops = a.selected.filter((r) => !inB.has(r.village_code));
  const names = (list) => list.slice(0, 30).map((r) => r.village_name).join(', ') + (list.length > 30 ? ' …' : '');
  $('#compare-adds').textContent = adds.length || drops.length ? tf('compare_adds', { n: fmtNum(adds.length), names: names(adds) || '—' }) : t('compare_same');
  $('#compare-drops').textContent = adds.length || drops.length ? tf('compare_drops', { n: fmtNum(drops.length), names: names(drops) || '—' }) : '';
  $('#compare-adds').dataset.count = String(adds.length);
  $('#compare-drops').dataset.count = String(drops.length);
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
  for (const s of links.querySelectorAll('.outdated-mark')) s.textContent = ` ${t('outdated')}`;
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
  renderLocks();
  relabelQuotas();
  renderChanges();
  $('#status-line').textContent = statusText();
  renderDownloadsLabel();
  if (state.popup) showPopup(state.popup.code, state.popup.lngLat);
  if (!state.result) return;
  renderSummary(state.result);
  renderTable(state.result);
  renderCompare();
  markStale();
}

/** Forget everything the previous run showed: results, links, popups, highlight, markers. */
function clearResults() {
  state.result = null;
  state.request = null;
  state.byVillage = new Map();
  closePopup();
  for (const url of state.downloads.values()) URL.revokeObjectURL(url);
  state.downloads.clear();
  $('#download-links').replaceChildren();
  $$('.downloads button').forEach((b) => { b.disabled = true; });
  $('#save-a').disabled = true;
  for (const id of ['#summary', '#run-message', '#excluded-note', '#priority-note', '#guard-note', '#breakdown', '#below-line', '#guarded', '#compare', '#programme-line']) $(id).hidden = true;
  $('#selected tfoot').hidden = true;
  $('#below-line tbody').replaceChildren();
  $('#breakdown tbody').replaceChildren();
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
    const response = await request(`targets?lang=${lang()}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    });
    const result = await response.json();
    if (runId !== state.runId) return;
    state.result = result;
    state.request = body;
    state.byVillage = new Map(result.villages.village_code.map((c, i) => [c, i]));
    render();
    highlightSelection();
    fitSelection();
    $('#save-a').disabled = false;
    markStale();
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
  if (!state.request || document.body.dataset.stale === 'true') return; // never a file of other settings
  clearError();
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
    const link = h('a', { href: url, download: name, 'data-format': format }, `${name} (${fmtNum(blob.size / 1024, 1)} KB)`, h('span', { class: 'outdated-mark', hidden: true }, ` ${t('outdated')}`));
    const links = $('#download-links');
    links.querySelector(`a[data-format="${format}"]`)?.remove();
    if (!links.firstChild) links.append(h('span', { class: 'label' }, `${t('downloaded')} `));
    links.append(link);
    link.click();
  } catch (err) {
    showError(err instanceof ProblemError ? err.message : String(err));
  } finally {
    button.textContent = t(`download_${format}`);
    markStale();
  }
}

/** Before printing, the map becomes an image of itself (a WebGL canvas does not print). */
function mapToImage() {
  const canvas = state.map?.getCanvas();
  const img = $('#map-print');
  if (!canvas) return;
  try {
    img.src = canvas.toDataURL('image/png');
    img.alt = t('map_aria');
  } catch {
    img.removeAttribute('src');
  }
}

/** Print the results as a document: the map first shows the whole selection, then becomes an image. */
async function printPage() {
  if (state.map) {
    fitSelection();
    await new Promise((done) => {
      state.map.once('idle', done);
      setTimeout(done, 3000); // a map that never settles still prints as it is
    });
  }
  mapToImage();
  window.print();
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
  $('#kab-all').addEventListener('click', () => { $$('#kabupaten-list input[type="checkbox"]').forEach((el) => { el.checked = true; }); markStale(); });
  $('#kab-none').addEventListener('click', () => { $$('#kabupaten-list input[type="checkbox"]').forEach((el) => { el.checked = false; }); markStale(); });
  $$('.downloads button[data-format]').forEach((b) => b.addEventListener('click', () => download(b.dataset.format, b)));
  $('#print').addEventListener('click', printPage);
  window.addEventListener('beforeprint', mapToImage);
  $('#save-a').addEventListener('click', () => {
    if (!state.result) return;
    state.scenarioA = { request: state.request, result: state.result };
    renderCompare();
  });
  $('#clear-a').addEventListener('click', () => { state.scenarioA = null; renderCompare(); });
  $('#breakdown-level').addEventListener('change', () => { if (state.result) renderBreakdown(state.result); });
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
    renderLocks();
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
