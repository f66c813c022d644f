// The verification page: sign in, pick a village, check its families one tap at a time, and take
// the village's step (submit, pass, return, approve). Small requests for slow connections: one
// page of families at a time, each change a PATCH of a few bytes against the family's version.
import { ApiError, call, el, get, setCsrf, url } from './api.js';
import { lang, number, percent, t, tf, toggle, translate } from './i18n.js';

const PAGE = 25;
const OTHER_STATUSES = ['diperbaiki', 'pindah', 'meninggal', 'tidak_ditemukan', 'tidak_layak', 'ganda'];
const NEEDS_REASON = new Set(['pindah', 'meninggal', 'tidak_ditemukan', 'tidak_layak', 'ganda']);
const REASONS = {
  id: {
    tidak_layak: ['Sudah menjadi PNS', 'Sudah menjadi PPPK', 'Anggota TNI/Polri', 'Sudah mampu'],
    pindah: ['Pindah ke desa lain', 'Pindah ke luar provinsi'],
    meninggal: ['Kepala keluarga meninggal, tidak ada anggota tersisa'],
    tidak_ditemukan: ['Alamat tidak ditemukan', 'Tidak dikenal warga'],
    ganda: ['Terdaftar dua kali'],
  },
  en: {
    tidak_layak: ['Now a civil servant (PNS)', 'Now PPPK', 'TNI/Polri', 'Well-off'],
    pindah: ['Moved to another village', 'Moved out of the province'],
    meninggal: ['Head of family deceased, no remaining members'],
    tidak_ditemukan: ['Address not found', 'Nobody knows the family'],
    ganda: ['Registered twice'],
  },
};
const CORRECTABLE = [['head_name', 'head_name'], ['nik', 'nik'], ['address', 'address'], ['members', 'members']];
const STEPS = { desa: ['submit'], kecamatan: ['pass', 'return'], kabupaten: ['approve', 'return'], provinsi: [] };
const EDITABLE = new Set(['terbuka', 'dikembalikan']);

const $ = (id) => document.getElementById(id);
const state = { me: null, village: null, villages: [], page: 0, total: 0, q: '', filter: '', families: [] };

function flash(text, bad = false) {
  const box = $('flash');
  box.textContent = text;
  box.classList.toggle('bad', bad);
  box.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => { box.hidden = true; }, bad ? 8000 : 2500);
}

function problem(err) {
  if (err instanceof ApiError && err.status === 0) return t('offline');
  return tf('error', { detail: err.message });
}

// ---------------------------------------------------------------- signing in

async function start() {
  translate();
  $('lang').addEventListener('click', () => toggle(redraw));
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('back').addEventListener('click', () => showVillages());
  $('village-search').addEventListener('input', drawVillages);
  $('search').addEventListener('input', debounce(() => { state.q = $('search').value.trim(); state.page = 0; loadFamilies(); }, 350));
  for (const chip of document.querySelectorAll('.chip')) chip.addEventListener('click', () => setFilter(chip.dataset.filter));
  $('prev').addEventListener('click', () => { state.page -= 1; loadFamilies(); });
  $('next').addEventListener('click', () => { state.page += 1; loadFamilies(); });
  $('sheet-upload').addEventListener('change', uploadSheet);
  $('proposal-form').addEventListener('submit', propose);
  let options = { oidc: false, signed_in: false };
  try { options = await get('signin-options'); } catch { /* the password form is enough */ }
  $('oidc').hidden = !options.oidc;
  const refused = new URLSearchParams(window.location.search).get('signin');
  if (refused) {
    $('signin-error').textContent = t(refused === 'refused' ? 'oidc_refused' : 'oidc_failed');
    $('signin-error').hidden = false;
    window.history.replaceState(null, '', window.location.pathname);
  }
  if (!options.signed_in) { showSignIn(); return; }
  try {
    await signedIn(await get('me'));
  } catch (err) {
    showSignIn();
  }
}

function showSignIn() {
  for (const id of ['village-list', 'village', 'signout', 'who']) $(id).hidden = true;
  $('signin').hidden = false;
  $('name').focus();
}

async function signIn(event) {
  event.preventDefault();
  const button = event.submitter ?? $('signin').querySelector('button[type=submit]');
  button.disabled = true;
  button.textContent = t('signing_in');
  $('signin-error').hidden = true;
  try {
    const answer = await call('POST', 'signin', { json: { name: $('name').value.trim(), password: $('password').value } });
    $('password').value = '';
    setCsrf(answer.csrf);
    await signedIn(await get('me'));
  } catch (err) {
    const box = $('signin-error');
    if (err.status === 429) box.textContent = tf('locked', { minutes: Math.max(1, Math.round((err.retryAfter || 60) / 60)) });
    else if (err.status === 401) box.textContent = t('wrong');
    else box.textContent = problem(err);
    box.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = t('signin');
  }
}

async function signOut() {
  try { await call('POST', 'signout'); } catch { /* the session ends anyway */ }
  state.me = null;
  showSignIn();
}

async function signedIn(me) {
  state.me = me;
  setCsrf(me.csrf);
  $('signin').hidden = true;
  $('signout').hidden = false;
  $('who').hidden = false;
  $('who').textContent = `${me.account.name} · ${me.account.role} ${me.account.region}`;
  $('synthetic').hidden = !me.round?.synthetic;
  const list = await get('villages');
  state.villages = list.villages;
  if (me.account.role === 'desa' && state.villages.length === 1) {
    await openVillage(state.villages[0].code);
  } else {
    showVillages();
  }
}

// ---------------------------------------------------------------- villages

function showVillages() {
  $('village').hidden = true;
  $('village-list').hidden = false;
  drawVillages();
}

function drawVillages() {
  const needle = $('village-search').value.trim().toLowerCase();
  const list = $('villages');
  list.replaceChildren();
  const shown = state.villages.filter((v) => !needle || v.name.toLowerCase().includes(needle) || v.code.startsWith(needle));
  for (const v of shown.slice(0, 300)) {
    const share = v.families ? v.checked / v.families : null;
    list.append(el('li', {}, el('button', { type: 'button', onclick: () => openVillage(v.code) },
      el('span', {}, el('strong', {}, v.name), el('br'), el('small', { class: 'hint' }, `${v.kecamatan_name} · ${t(`state_${v.state}`)}`)),
      el('span', { class: 'pct' }, percent(share)))));
  }
}

async function openVillage(code) {
  $('village-list').hidden = true;
  $('village').hidden = false;
  state.page = 0;
  state.q = '';
  $('search').value = '';
  state.village = await get(`villages/${code}`);
  drawVillage();
  await loadFamilies();
}

function drawVillage() {
  const v = state.village;
  const role = state.me.account.role;
  $('village-name').textContent = v.name;
  $('village-place').textContent = `${v.code} · ${v.kecamatan_name} · ${v.kabupaten_name}`;
  const badge = $('village-state');
  badge.textContent = t(`state_${v.state}`);
  badge.className = `badge s-${v.state}`;
  $('meter-fill').style.width = `${v.families ? (100 * v.checked) / v.families : 0}%`;
  $('village-count').textContent = tf('families_count', { checked: number(v.checked), total: number(v.families) });
  $('village-note').hidden = !v.note;
  $('village-note').textContent = v.note ? `${t('note')}: ${v.note}` : '';
  const steps = $('steps');
  steps.replaceChildren();
  for (const step of STEPS[role] ?? []) {
    const blocked = step === 'submit' && v.families - v.checked > 0;
    steps.append(el('button', { type: 'button', class: step === 'return' ? '' : 'primary', onclick: () => takeStep(step), disabled: blocked }, t(step)));
    if (blocked) steps.append(el('p', { class: 'hint' }, tf('submit_blocked', { n: number(v.families - v.checked) })));
  }
  const editable = role === 'desa' && EDITABLE.has(v.state);
  $('proposal').hidden = !editable;
  $('sheet-upload-label').hidden = !editable;
  $('sheet-download').href = url(`villages/${v.code}/sheet`);
}

async function takeStep(step) {
  let note = null;
  if (step === 'return') {
    note = window.prompt(t('return_note'));
    if (!note) return;
  }
  try {
    state.village = await call('POST', `villages/${state.village.code}/${step}`, { json: { note, version: state.village.version } });
    drawVillage();
    flash(t('saved'));
  } catch (err) {
    if (err.body?.current) state.village = err.body.current;
    drawVillage();
    flash(problem(err), true);
  }
}

// ---------------------------------------------------------------- families

function setFilter(filter) {
  state.filter = filter;
  state.page = 0;
  for (const chip of document.querySelectorAll('.chip')) chip.setAttribute('aria-pressed', String(chip.dataset.filter === filter));
  loadFamilies();
}

async function loadFamilies() {
  const params = new URLSearchParams({ offset: String(state.page * PAGE), limit: String(PAGE) });
  if (state.q) params.set('q', state.q);
  if (state.filter) params.set('status', state.filter);
  const list = $('families');
  list.setAttribute('aria-busy', 'true');
  try {
    const page = await get(`villages/${state.village.code}/families?${params}`);
    state.families = page.families;
    state.total = page.total;
    state.village = page.village;
    drawVillage();
    drawFamilies();
  } catch (err) {
    flash(problem(err), true);
  } finally {
    list.removeAttribute('aria-busy');
  }
}

function drawFamilies() {
  const list = $('families');
  list.replaceChildren(...state.families.map(familyCard));
  if (!state.families.length) list.append(el('li', { class: 'hint' }, t('none_found')));
  const pages = Math.max(1, Math.ceil(state.total / PAGE));
  $('page-of').textContent = tf('page', { page: state.page + 1, pages });
  $('prev').disabled = state.page === 0;
  $('next').disabled = state.page + 1 >= pages;
}

function canEdit() {
  return state.me.account.role === 'desa' && EDITABLE.has(state.village.state);
}

function familyCard(family) {
  const card = el('li', { class: `family${family.status === 'belum' ? '' : ' done'}`, dataset: { id: String(family.id) } });
  const badge = el('span', { class: `badge st-${family.status}` }, t(`status_${family.status}`));
  card.append(
    el('h3', {}, family.head_name ?? '—'),
    el('p', { class: 'meta' }, `${t('nik')} ${family.nik ?? '—'} · ${t('decile')} ${family.decile} · ${t('members')} ${family.members}`),
    el('p', { class: 'meta' }, family.address ?? ''),
    el('p', { class: 'meta' }, badge, family.reason ? ` ${family.reason}` : ''),
  );
  if (canEdit()) {
    const more = el('div', { class: 'more', hidden: true });
    card.append(el('div', { class: 'actions' },
      el('button', { type: 'button', class: 'valid', onclick: () => setStatus(card, family, 'valid', null, null) }, t('tap_valid')),
      el('button', { type: 'button', 'aria-expanded': 'false', onclick: (e) => openMore(e.currentTarget, more, card, family) }, t('other_status'))),
    more);
  }
  card.append(el('button', { type: 'button', class: 'link-button', onclick: () => showHistory(card, family) }, t('history')));
  return card;
}

function openMore(button, more, card, family) {
  const open = more.hidden;
  more.hidden = !open;
  button.setAttribute('aria-expanded', String(open));
  if (!open || more.childElementCount) return;
  let chosen = null;
  const reason = el('input', { type: 'text', 'aria-label': t('reason'), placeholder: t('reason') });
  const chips = el('div', { class: 'reasons' });
  const fixes = el('div', { hidden: true }, el('p', { class: 'hint' }, t('correction_hint')),
    ...CORRECTABLE.map(([field, label]) => el('label', {}, t(label), el('input', { name: field, type: field === 'members' ? 'number' : 'text', min: '1' }))));
  const statuses = el('div', { class: 'statuses' }, ...OTHER_STATUSES.map((status) => el('button', {
    type: 'button', 'aria-pressed': 'false',
    onclick: (e) => {
      chosen = status;
      for (const b of statuses.children) b.setAttribute('aria-pressed', String(b === e.currentTarget));
      fixes.hidden = status !== 'diperbaiki';
      chips.replaceChildren(...(REASONS[lang()][status] ?? []).map((text) => el('button', { type: 'button', onclick: () => { reason.value = text; } }, text)));
    },
  }, t(`status_${status}`))));
  const save = el('button', { type: 'button', class: 'primary', onclick: () => {
    if (!chosen) return;
    if (NEEDS_REASON.has(chosen) && !reason.value.trim()) { flash(t('reason_needed'), true); reason.focus(); return; }
    let changes = null;
    if (chosen === 'diperbaiki') {
      changes = {};
      for (const input of fixes.querySelectorAll('input')) {
        if (input.value.trim()) changes[input.name] = input.name === 'members' ? Number(input.value) : input.value.trim();
      }
    }
    setStatus(card, family, chosen, reason.value.trim() || null, changes);
  } }, t('save'));
  more.append(statuses, fixes, el('label', {}, t('reason')), chips, reason, save);
}

async function setStatus(card, family, status, reason, changes) {
  for (const button of card.querySelectorAll('button')) button.disabled = true;
  try {
    const fresh = await call('PATCH', `families/${family.id}`, { json: { status, reason, version: family.version, changes } });
    replaceFamily(card, fresh);
    flash(`${t('saved')}: ${fresh.head_name} — ${t(`status_${fresh.status}`)}`);
    refreshCounts();
  } catch (err) {
    if (err.status === 409 && err.body?.current?.id === family.id) {
      replaceFamily(card, err.body.current);
      flash(tf('conflict', { who: err.body.current.updated_by }), true);
    } else {
      for (const button of card.querySelectorAll('button')) button.disabled = false;
      flash(problem(err), true);
    }
  }
}

function replaceFamily(card, fresh) {
  const at = state.families.findIndex((f) => f.id === fresh.id);
  if (at >= 0) state.families[at] = fresh;
  card.replaceWith(familyCard(fresh));
}

async function refreshCounts() {
  try {
    state.village = await get(`villages/${state.village.code}`);
    drawVillage();
  } catch { /* the counts catch up on the next page */ }
}

async function showHistory(card, family) {
  const old = card.querySelector('.history');
  if (old) { old.remove(); return; }
  try {
    const answer = await get(`families/${family.id}/history`);
    const items = answer.entries.slice(0, 10).map((e) => el('li', {},
      `${e.at.slice(0, 16).replace('T', ' ')} ${e.actor}: ${e.field ?? e.action} ${e.old ?? ''} → ${e.new ?? ''}${e.reason ? ` (${e.reason})` : ''}`));
    card.append(el('ul', { class: 'history' }, ...items));
  } catch (err) {
    flash(problem(err), true);
  }
}

// ---------------------------------------------------------------- sheets and proposals

async function uploadSheet(event) {
  const file = event.target.files[0];
  event.target.value = '';
  if (!file) return;
  const out = $('sheet-result');
  out.replaceChildren(el('p', { class: 'hint' }, t('loading')));
  try {
    const result = await call('POST', `villages/${state.village.code}/sheet`, { body: file, type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
    out.replaceChildren(el('p', {}, tf('sheet_done', { applied: result.applied, proposed: result.proposed, conflicts: result.conflicts.length })));
    if (result.conflicts.length) out.append(el('p', { class: 'note' }, tf('sheet_conflicts', { rows: result.conflicts.map((c) => c.row).join(', ') })));
    await loadFamilies();
  } catch (err) {
    if (err.status === 422) {
      out.replaceChildren(el('p', { class: 'error' }, t('sheet_errors')),
        el('ul', { class: 'sheet-errors' }, ...(err.body.errors ?? []).slice(0, 50).map((e) => el('li', {}, `${e.sheet ?? ''} ${e.row ?? ''} ${e.column ?? ''}: ${e.message}`))));
    } else {
      out.replaceChildren(el('p', { class: 'error' }, problem(err)));
    }
  }
}

async function propose(event) {
  event.preventDefault();
  const form = new FormData(event.target);
  const body = Object.fromEntries([...form.entries()].filter(([, v]) => String(v).trim() !== ''));
  for (const key of ['decile', 'members']) body[key] = Number(body[key]);
  try {
    await call('POST', `villages/${state.village.code}/families`, { json: body });
    event.target.reset();
    flash(t('proposed'));
    await loadFamilies();
  } catch (err) {
    flash(problem(err), true);
  }
}

function redraw() {
  if (!state.me) return;
  if (!$('village').hidden) { drawVillage(); drawFamilies(); } else drawVillages();
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

start();
