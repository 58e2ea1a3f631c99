// callsift serve: the page's one script. Views are chosen by the URL's hash
// (#/search?q=…, #/call/ID?at=MS&q=…, #/inbox), so the back button and
// bookmarks work. Server data is only ever put in the page as text
// (textContent), never as HTML.
'use strict';

const TEXTS = JSON.parse(document.getElementById('texts').textContent);
const LANG = document.documentElement.lang || 'en';
const $ = (sel) => document.querySelector(sel);
let session = null;
let lastSearch = '';

/** A text of the page's language, with {name} filled in. */
function t(key, vars) {
  let s = TEXTS[key] || key;
  for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
  return s;
}

/** An element with attributes and children (strings become text). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return e;
}

/** Text pieces [[text, matched], …] as spans with <mark> on the matches. */
function marked(parts, fallback) {
  if (!parts || parts.length === 0) return [fallback || ''];
  return parts.map(([text, hit]) => (hit ? el('mark', {}, text) : text));
}

function clock(ms) {
  const s = Math.floor(ms / 1000);
  const p = (n) => String(n).padStart(2, '0');
  return p(Math.floor(s / 3600)) + ':' + p(Math.floor(s / 60) % 60) + ':' + p(s % 60);
}

function when(ts) {
  if (!ts) return t('unknown_date');
  return new Date(ts).toLocaleString(LANG, { dateStyle: 'medium', timeStyle: 'short' });
}

class ApiError extends Error {
  constructor(status, body) {
    super(body.error || String(status));
    this.status = status;
    this.body = body;
  }
}

/** JSON from the API; state-changing calls carry the CSRF token. */
async function api(path, options) {
  const opts = Object.assign({ credentials: 'same-origin', headers: {} }, options || {});
  if (opts.body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(opts.body);
  }
  if (opts.method && opts.method !== 'GET' && session) opts.headers['X-CSRF-Token'] = session.csrf;
  const r = await fetch(path, opts);
  const body = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (r.status === 401 && path !== '/api/login' && path !== '/api/session') {
    session = null;
    showLogin();
  }
  if (!r.ok) throw new ApiError(r.status, body);
  return body;
}

function flash(message) {
  const f = $('#flash');
  f.hidden = !message;
  f.textContent = message || '';
}

function show(view) {
  for (const id of ['login-view', 'search-view', 'call-view', 'inbox-view']) {
    $('#' + id).hidden = id !== view;
  }
  $('#tab-search').toggleAttribute('aria-current', view === 'search-view');
  $('#tab-inbox').toggleAttribute('aria-current', view === 'inbox-view');
  if (view !== 'call-view') $('#player').pause();
}

// ---- session ---------------------------------------------------------------

function showLogin() {
  show('login-view');
  $('#who').textContent = '';
  $('#logout').hidden = true;
  $('#user').focus();
}

function signedIn(s) {
  session = s;
  $('#who').textContent = t('signed_in_as', { u: s.user, r: s.role });
  $('#logout').hidden = !s.login_required;
  loadFacets();
  refreshInboxCount();
  route();
}

async function start() {
  try {
    signedIn(await api('/api/session'));
  } catch (e) {
    if (e.status === 401) showLogin();
    else flash(t('error', { m: e.message }));
  }
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    const s = await api('/api/login', {
      method: 'POST',
      body: { user: $('#user').value, password: $('#password').value },
    });
    $('#password').value = '';
    signedIn(s);
  } catch (e) {
    $('#login-error').textContent = e.message;
    $('#password').select();
  }
});

$('#logout').addEventListener('click', async () => {
  try { await api('/api/logout', { method: 'POST' }); } catch (e) { /* gone anyway */ }
  session = null;
  showLogin();
});

async function loadFacets() {
  try {
    const f = await api('/api/facets');
    const sel = $('#f-rule');
    for (const rule of f.rules) sel.append(el('option', { value: rule }, rule));
  } catch (e) { /* the filter just offers no rules */ }
}

// ---- routing ---------------------------------------------------------------

function route() {
  if (!session) return;
  const hash = location.hash || '#/search';
  const [path, query] = hash.slice(1).split('?');
  const params = new URLSearchParams(query || '');
  flash('');
  if (path.startsWith('/call/')) openCall(path.slice(6), params);
  else if (path === '/inbox') openInbox(params);
  else openSearch(params);
}

window.addEventListener('hashchange', route);

// ---- search ----------------------------------------------------------------

const FILTERS = { from: '#f-from', to: '#f-to', speaker: '#f-speaker', agent: '#f-agent', language: '#f-language', rule: '#f-rule' };

function openSearch(params) {
  show('search-view');
  $('#q').value = params.get('q') || '';
  for (const [name, sel] of Object.entries(FILTERS)) $(sel).value = params.get(name) || '';
  if (params.get('q')) runSearch(params);
  else {
    $('#results').replaceChildren();
    $('#total').textContent = '';
    $('#pager').hidden = true;
    $('#q').focus();
  }
}

$('#search-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const params = new URLSearchParams();
  params.set('q', $('#q').value);
  for (const [name, sel] of Object.entries(FILTERS)) if ($(sel).value) params.set(name, $(sel).value);
  const hash = '#/search?' + params.toString();
  if (location.hash === hash) route();
  else location.hash = hash;
});

async function runSearch(params) {
  const err = $('#query-error');
  err.hidden = true;
  $('#total').textContent = t('loading');
  lastSearch = params.toString();
  try {
    const r = await api('/api/search?' + params.toString());
    renderResults(r, params);
  } catch (e) {
    $('#results').replaceChildren();
    $('#pager').hidden = true;
    $('#total').textContent = '';
    if (e.status === 503) { flash(t('no_index')); return; }
    err.hidden = false;
    err.textContent = e.message;
    if (e.body && e.body.position !== undefined && e.body.query !== undefined) {
      // The query with a caret under the problem, as `callsift search` prints it.
      err.textContent += '\n' + e.body.query + '\n' + ' '.repeat(e.body.position) + '^';
      const input = $('#q');
      input.focus();
      input.setSelectionRange(e.body.position, e.body.position);
    }
  }
}

function renderResults(r, params) {
  const groups = new Map();
  for (const h of r.hits) {
    if (!groups.has(h.call_id)) groups.set(h.call_id, []);
    groups.get(h.call_id).push(h);
  }
  const q = params.get('q') || '';
  const box = $('#results');
  box.replaceChildren();
  for (const [callId, hits] of groups) {
    const first = hits[0];
    const items = hits.map((h) => {
      const link = '#/call/' + callId + '?at=' + h.at_ms + '&seg=' + h.segment + '&q=' + encodeURIComponent(q);
      return el('li', { class: 'hit', 'data-at-ms': h.at_ms, 'data-segment': h.segment },
        el('span', { class: 'clock' }, clock(h.at_ms)),
        el('span', { class: 'speaker' }, h.speaker),
        el('span', { class: 'snippet', lang: h.language }, marked(h.parts, '')),
        el('a', { class: 'play', href: link, 'aria-label': t('play') + ' ' + clock(h.at_ms) }, '▶ ' + t('play')));
    });
    box.append(el('article', { class: 'call', 'data-call-id': callId },
      el('header', {},
        el('span', { class: 'date' }, when(first.call_start)),
        first.agent_id ? el('span', { class: 'agent' }, t('agent') + ': ' + first.agent_id) : null,
        el('span', { class: 'file' }, first.file_name),
        el('code', { class: 'call-id' }, callId.slice(0, 20))),
      el('ul', {}, items)));
  }
  const n = r.hits.length;
  $('#total').textContent = r.total === 0 ? t('no_hits') : t('hits_total', { n: r.total, c: groups.size });
  $('#pager').hidden = r.total <= r.limit;
  $('#page-info').textContent = n ? t('showing', { a: r.offset + 1, b: r.offset + n, n: r.total }) : '';
  $('#prev').disabled = r.offset === 0;
  $('#next').disabled = r.offset + n >= r.total;
  $('#prev').onclick = () => page(params, Math.max(0, r.offset - r.limit));
  $('#next').onclick = () => page(params, r.offset + r.limit);
}

function page(params, offset) {
  const p = new URLSearchParams(params);
  p.set('offset', offset);
  location.hash = '#/search?' + p.toString();
}

// ---- one call --------------------------------------------------------------

let callLines = [];

async function openCall(callId, params) {
  show('call-view');
  const at = Number(params.get('at') || 0);
  const seg = params.has('seg') ? Number(params.get('seg')) : null;
  const q = params.get('q') || '';
  $('#back').href = lastSearch ? '#/search?' + lastSearch : '#/search';
  $('#dialogue').replaceChildren();
  $('#call-title').textContent = t('loading');
  let c;
  try {
    c = await api('/api/calls/' + encodeURIComponent(callId) + (q ? '?q=' + encodeURIComponent(q) : ''));
  } catch (e) {
    $('#call-title').textContent = t('call');
    flash(t('error', { m: e.message }));
    return;
  }
  $('#call-title').textContent = t('call') + ' ' + c.call_id.slice(0, 20);
  const meta = [t('started') + ': ' + when(c.call_start), t('duration') + ': ' + c.duration, t('file') + ': ' + c.file_name];
  if (c.metadata.agent_id) meta.push(t('agent') + ': ' + c.metadata.agent_id);
  $('#call-meta').textContent = meta.join(' · ');
  renderDialogue(c, seg);
  renderCallHits(c);
  renderScores(c);
  const player = $('#player');
  const problem = $('#audio-problem');
  problem.hidden = !c.audio_problem;
  problem.textContent = c.audio_problem ? t('audio_error', { m: c.audio_problem }) : '';
  if (c.audio_problem) {
    player.removeAttribute('src');
    player.hidden = true;
    return;
  }
  player.hidden = false;
  // A few seconds before the hit, so the listener hears it coming.
  const from = Math.max(0, at / 1000 - 3);
  player.onloadedmetadata = () => {
    player.currentTime = from;
    player.play().catch(() => { /* autoplay refused: the controls are there */ });
  };
  player.onerror = () => {
    problem.hidden = false;
    problem.textContent = t('audio_error', { m: player.error ? player.error.message || player.error.code : '?' });
  };
  player.src = '/api/calls/' + encodeURIComponent(c.call_id) + '/audio';
}

function renderDialogue(c, seg) {
  callLines = c.lines;
  const list = $('#dialogue');
  const items = c.lines.map((line) => el('li', {
    class: 'line ch' + line.channel + (line.no === seg || line.parts ? ' hit-line' : ''),
    'data-start-ms': line.start_ms, 'data-no': line.no,
  }, el('button', { type: 'button', onclick: () => seek(line.start_ms) },
    el('span', { class: 'clock' }, line.clock),
    el('span', { class: 'speaker' }, line.speaker),
    el('span', { class: 'text' }, marked(line.parts, line.text)))));
  list.replaceChildren(...items);
  const target = seg !== null ? list.querySelector('[data-no="' + seg + '"]') : null;
  if (target) {
    target.classList.add('hit-line');
    target.scrollIntoView({ block: 'center' });
  }
}

function seek(ms) {
  const player = $('#player');
  player.currentTime = ms / 1000;
  player.play().catch(() => {});
}

// The player follows along: the line being heard is marked and kept in view.
$('#player').addEventListener('timeupdate', () => {
  const now = $('#player').currentTime * 1000;
  let current = -1;
  for (let i = 0; i < callLines.length && callLines[i].start_ms <= now; i++) current = i;
  const list = $('#dialogue');
  const old = list.querySelector('li.current');
  const next = current >= 0 ? list.children[current] : null;
  if (old === next) return;
  if (old) { old.classList.remove('current'); old.removeAttribute('aria-current'); }
  if (next) {
    next.classList.add('current');
    next.setAttribute('aria-current', 'true');
    if ($('#follow').checked) next.scrollIntoView({ block: 'nearest' });
  }
});

function renderCallHits(c) {
  const ul = $('#call-hits');
  if (c.hits.length === 0) { ul.replaceChildren(el('li', {}, t('no_rules'))); return; }
  ul.replaceChildren(...c.hits.map((h) => el('li', {},
    el('span', { class: 'severity ' + h.severity }, t('severity_' + h.severity)), ' ',
    el('button', { type: 'button', class: 'seek-hit', onclick: () => seek(Math.max(0, h.start_ms - 3000)) }, clock(h.start_ms)),
    ' ' + h.rule + ': «' + h.matched + '»')));
}

function renderScores(c) {
  const row = (cr) => {
    const verdict = !cr.applicable ? t('not_applicable') : cr.passed ? t('passed') : t('failed');
    const evidence = cr.evidence_ms !== undefined && cr.evidence_ms !== null
      ? el('button', { type: 'button', onclick: () => seek(cr.evidence_ms) }, clock(cr.evidence_ms))
      : '';
    return el('tr', {},
      el('td', {}, cr.criterion + (cr.critical ? ' (' + t('critical') + ')' : '')),
      el('td', { class: !cr.applicable ? 'na' : cr.passed ? 'ok' : 'bad' }, verdict),
      el('td', {}, evidence));
  };
  const card = (sc) => el('table', { class: 'score' },
    el('caption', {}, sc.scorecard + ' — ' + t('score') + ' ' + (sc.score === null ? '–' : Math.round(sc.score))),
    el('tbody', {}, sc.criteria.map(row)));
  $('#scores').replaceChildren(...c.scorecards.map(card));
}

// ---- inbox -----------------------------------------------------------------

async function refreshInboxCount() {
  try {
    const r = await api('/api/inbox?limit=0');
    $('#inbox-count').textContent = r.unreviewed ? String(r.unreviewed) : '';
  } catch (e) { /* no tables yet */ }
}

async function openInbox(params) {
  show('inbox-view');
  const offset = Number(params.get('offset') || 0);
  const only = params.get('unreviewed') === '1';
  $('#unreviewed-only').checked = only;
  let r;
  try {
    r = await api('/api/inbox?offset=' + offset + (only ? '&unreviewed=true' : ''));
  } catch (e) {
    flash(t('error', { m: e.message }));
    return;
  }
  $('#inbox-total').textContent = r.total ? t('inbox_total', { n: r.total, u: r.unreviewed }) : t('inbox_empty');
  $('#inbox-count').textContent = r.unreviewed ? String(r.unreviewed) : '';
  $('#inbox').replaceChildren(...r.items.map(inboxItem));
  const shown = r.items.length;
  const total = only ? r.unreviewed : r.total;
  $('#inbox-pager').hidden = total <= 20;
  $('#inbox-page-info').textContent = shown ? t('showing', { a: offset + 1, b: offset + shown, n: total }) : '';
  $('#inbox-prev').disabled = offset === 0;
  $('#inbox-next').disabled = offset + shown >= total;
  const go = (o) => { location.hash = '#/inbox?offset=' + o + (only ? '&unreviewed=1' : ''); };
  $('#inbox-prev').onclick = () => go(Math.max(0, offset - 20));
  $('#inbox-next').onclick = () => go(offset + 20);
}

$('#unreviewed-only').addEventListener('change', (ev) => {
  location.hash = '#/inbox' + (ev.target.checked ? '?unreviewed=1' : '');
});

function inboxItem(item) {
  const li = el('li', { class: 'inbox-item' + (item.review ? ' is-reviewed' : ''), 'data-key': item.key },
    el('div', { class: 'meta' },
      el('span', { class: 'severity ' + item.severity }, t('severity_' + item.severity)),
      el('strong', {}, item.rule),
      el('span', {}, when(item.call_start)),
      item.agent_id ? el('span', {}, t('agent') + ': ' + item.agent_id) : null,
      el('span', { class: 'clock' }, item.clock),
      el('span', { class: 'speaker' }, item.speaker)),
    el('p', { class: 'matched' }, '«' + item.matched_text + '»'),
    el('a', { class: 'play', href: '#/call/' + item.call_id + '?at=' + item.start_ms + (item.seg_no !== null ? '&seg=' + item.seg_no : '') }, '▶ ' + t('play')),
    ' ',
    reviewControl(item));
  return li;
}

function reviewControl(item) {
  const span = el('span', { class: 'review-box' });
  if (item.review) span.append(el('span', { class: 'reviewed' }, t('reviewed_by', { u: item.review.user, t: when(item.review.at) })), ' ');
  if (session && session.may_review) {
    span.append(el('button', {
      type: 'button', class: 'review', 'aria-pressed': item.review ? 'true' : 'false',
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          const mark = await api('/api/inbox/review', { method: 'POST', body: { key: item.key, reviewed: !item.review } });
          item.review = mark.reviewed ? mark : null;
          const li = ev.target.closest('li');
          const fresh = inboxItem(item);
          li.replaceWith(fresh);
          fresh.querySelector('button.review').focus();
          refreshInboxCount();
        } catch (e) {
          flash(t('error', { m: e.message }));
          ev.target.disabled = false;
        }
      },
    }, item.review ? t('unmark') : t('mark_reviewed')));
  }
  return span;
}

// "/" puts the cursor in the search box from anywhere but a text field.
document.addEventListener('keydown', (ev) => {
  const tag = (ev.target.tagName || '').toLowerCase();
  if (ev.key === '/' && tag !== 'input' && tag !== 'textarea' && tag !== 'select') {
    ev.preventDefault();
    if (location.hash.startsWith('#/search') || !location.hash) $('#q').focus();
    else location.hash = '#/search';
  }
});

start();
