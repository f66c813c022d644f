// The progress page: share of families checked per village on a map (the villages' outlines from
// the service's own OGC API), per kabupaten and kecamatan in tables, and the villages still waiting.
import { el, get, url } from './api.js';
import { number, percent, t, tf, toggle, translate } from './i18n.js';

const $ = (id) => document.getElementById(id);
const state = { me: null, progress: null, map: null, features: null };
//: Share checked → colour (0 %, 50 %, 100 %): red, amber, green; approved villages outlined.
const STOPS = [[0, '#d7301f'], [0.5, '#fdae61'], [1, '#1a9850']];
const NO_DATA = '#c9d1da';

async function start() {
  translate();
  $('lang').addEventListener('click', () => toggle(draw));
  let options = { signed_in: false };
  try { options = await get('signin-options'); } catch { /* shown below */ }
  if (!options.signed_in) {
    $('signin-needed').hidden = false;
    return;
  }
  state.me = await get('me');
  state.progress = await get('progress');
  $('synthetic').hidden = !state.progress.round?.synthetic;
  $('content').hidden = false;
  draw();
  state.features = await villageFeatures(state.me.account);
  drawMap();
}

function draw() {
  if (!state.progress) return;
  const p = state.progress;
  $('totals').textContent = `${t('total')}: ${tf('families_count', { checked: number(p.total.checked), total: number(p.total.families) })} (${percent(p.total.share)}) · ${t('col_approved')} ${number(p.total.states?.disetujui ?? 0)} / ${number(p.total.villages)} ${t('col_villages').toLowerCase()}`;
  const role = state.me.account.role;
  const finalLinks = (code) => (['kabupaten', 'provinsi'].includes(role)
    ? el('span', {}, el('a', { href: url(`kabupaten/${code}/final-list?f=xlsx`) }, 'XLSX'), ' · ', el('a', { href: url(`kabupaten/${code}/final-list?f=pdf`) }, 'PDF'))
    : '');
  table($('by-kabupaten'), [t('col_name'), t('col_villages'), t('col_approved'), t('col_families'), t('col_checked'), t('col_share'), t('final_list')],
    p.kabupaten.map((k) => [k.name, number(k.villages), number(k.states.disetujui ?? 0), number(k.families), number(k.checked), percent(k.share), finalLinks(k.code)]), [1, 2, 3, 4, 5]);
  table($('by-kecamatan'), [t('col_name'), t('col_villages'), t('col_approved'), t('col_families'), t('col_checked'), t('col_share')],
    p.kecamatan.map((k) => [k.name, number(k.villages), number(k.states.disetujui ?? 0), number(k.families), number(k.checked), percent(k.share)]), [1, 2, 3, 4, 5]);
  const waiting = p.villages.filter((v) => v.state !== 'disetujui');
  table($('waiting'), [t('col_name'), t('col_kecamatan'), t('col_state'), t('col_share')],
    waiting.slice(0, 500).map((v) => [v.name, v.kecamatan_name, t(`state_${v.state}`), percent(v.share)]), [3]);
  legend();
}

function table(node, header, rows, numeric) {
  const num = new Set(numeric);
  node.replaceChildren(
    el('thead', {}, el('tr', {}, ...header.map((h, i) => el('th', { scope: 'col', class: num.has(i) ? 'num' : '' }, h)))),
    el('tbody', {}, ...rows.map((row) => el('tr', {}, ...row.map((cell, i) => el('td', { class: num.has(i) ? 'num' : '' }, cell))))),
  );
}

function legend() {
  const items = STOPS.map(([share, colour]) => el('span', {}, el('i', { class: 'swatch', dataset: { colour } }), ` ${percent(share)}`));
  $('legend').replaceChildren(el('strong', {}, t('map_legend')), ...items,
    el('span', {}, el('i', { class: 'swatch', dataset: { colour: NO_DATA } }), ` ${t('no_data')}`));
  for (const swatch of $('legend').querySelectorAll('.swatch')) swatch.style.background = swatch.dataset.colour;
}

/** The outlines of the villages of the account's region (GeoJSON, every page of the OGC items). */
async function villageFeatures(account) {
  const filter = { kabupaten: 'kabupaten_code', kecamatan: 'kecamatan_code', desa: 'village_code' }[account.role];
  let next = new URL(`collections/villages/items?limit=1000${filter ? `&${filter}=${account.region}` : ''}`, document.baseURI).href;
  const features = [];
  while (next && features.length < 20000) {
    const response = await fetch(next, { headers: { Accept: 'application/geo+json' } });
    if (!response.ok) break;
    const page = await response.json();
    features.push(...page.features.map((f) => ({ type: 'Feature', geometry: f.geometry, properties: { village_code: f.properties.village_code, village_name: f.properties.village_name } })));
    next = page.links?.find((l) => l.rel === 'next')?.href ?? null;
  }
  return { type: 'FeatureCollection', features };
}

function bounds(collection) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c) => { if (typeof c[0] === 'number') { box[0] = Math.min(box[0], c[0]); box[1] = Math.min(box[1], c[1]); box[2] = Math.max(box[2], c[0]); box[3] = Math.max(box[3], c[1]); } else c.forEach(visit); };
  for (const f of collection.features) visit(f.geometry.coordinates);
  return box;
}

function drawMap() {
  if (!window.maplibregl || !state.features.features.length) return;
  const box = bounds(state.features);
  const map = new maplibregl.Map({
    container: 'map',
    style: { version: 8, sources: {}, layers: [{ id: 'background', type: 'background', paint: { 'background-color': '#e9eef3' } }] },
    bounds: box, fitBoundsOptions: { padding: 20 }, attributionControl: { compact: true, customAttribution: 'Sasaran' },
    preserveDrawingBuffer: true,
  });
  state.map = map;
  window.sasaranMap = map;
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  map.on('load', () => {
    map.addSource('villages', { type: 'geojson', data: state.features, promoteId: 'village_code' });
    const share = ['feature-state', 'share'];
    map.addLayer({ id: 'villages-fill', type: 'fill', source: 'villages', paint: {
      'fill-color': ['case', ['==', ['typeof', share], 'number'], ['interpolate', ['linear'], share, ...STOPS.flat()], NO_DATA],
      'fill-opacity': 0.85,
    } });
    map.addLayer({ id: 'villages-line', type: 'line', source: 'villages', paint: {
      'line-color': ['case', ['boolean', ['feature-state', 'approved'], false], '#0a2f6b', '#ffffff'],
      'line-width': ['case', ['boolean', ['feature-state', 'approved'], false], 2.2, 0.7],
    } });
    for (const v of state.progress.villages) {
      map.setFeatureState({ source: 'villages', id: v.code }, { share: v.share, approved: v.state === 'disetujui' });
    }
    const popup = new maplibregl.Popup({ closeButton: false });
    const byCode = new Map(state.progress.villages.map((v) => [v.code, v]));
    map.on('click', 'villages-fill', (e) => {
      const v = byCode.get(e.features[0].properties.village_code);
      if (!v) return;
      popup.setLngLat(e.lngLat).setDOMContent(el('div', {}, el('strong', {}, v.name), el('br'),
        `${t(`state_${v.state}`)} · ${tf('families_count', { checked: number(v.checked), total: number(v.families) })}`)).addTo(map);
    });
    map.on('idle', () => { document.body.dataset.map = 'idle'; });
  });
}

start();
