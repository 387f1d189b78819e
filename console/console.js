// Orchid console: a single page that talks only to Orchid's public API under
// /v0 on the same origin, with the user's API key (HTTP Basic, key as user
// name) in the Authorization header of each fetch(). The key is kept in
// sessionStorage only: never in a URL, a cookie or localStorage. No
// dependencies, no build step, no inline script or style (docs/console.md).
'use strict';

const KEY_STORE = 'orchid.console.key';
const PAGE_SIZES = [10, 25, 50, 100];

const main = document.getElementById('main');
const statusBox = document.getElementById('status');
const nav = document.getElementById('nav');

// ---- DOM helpers ----------------------------------------------------------
// h('tag.class', {attr: value, onclick: fn}, children...): text children
// become text nodes (never HTML), null/false children are dropped.
const SVG_NS = 'http://www.w3.org/2000/svg';
function build(el, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}
function h(spec, attrs, ...kids) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  return build(el, attrs, kids);
}
function s(tag, attrs, ...kids) {
  return build(document.createElementNS(SVG_NS, tag), attrs, kids);
}
function pretty(v) { return JSON.stringify(v, null, 2); }
function compact(v, max = 120) {
  const t = JSON.stringify(v);
  return t === undefined ? '' : (t.length > max ? t.slice(0, max - 1) + '\u2026' : t);
}
function isoTime(ms) {
  const n = Number(ms);
  return Number.isFinite(n) ? new Date(n).toISOString() : String(ms);
}

// ---- messages ---------------------------------------------------------------
function clearStatus() { statusBox.replaceChildren(); }
function showOk(text) {
  statusBox.replaceChildren(h('div.msg.ok', {}, text));
}
// An API error: its HTTP status, code and message, as the API sent them.
function showError(err, lead) {
  if (err && err.handled) return;  // a 401 has signed out and said so
  const box = h('div.msg.error', { role: 'alert' });
  if (err instanceof ApiError) {
    build(box, {}, [lead ? lead + ' ' : '', 'HTTP ', String(err.status), ' ',
      h('code', { class: 'err-code' }, err.code), ': ',
      h('span', { class: 'err-message' }, err.message)]);
    if (err.details) box.append(h('pre', {}, pretty(err.details)));
  } else {
    build(box, {}, [lead ? lead + ' ' : '', String(err && err.message || err)]);
  }
  statusBox.replaceChildren(box);
}

// ---- the API ----------------------------------------------------------------
class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}
function getKey() { return sessionStorage.getItem(KEY_STORE); }
function basic(key) {
  const bytes = new TextEncoder().encode(key + ':');
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'Basic ' + btoa(bin);
}
// One path segment: encodeURIComponent, and "." / ".." encoded too (a raw
// dot segment is refused by the API; an encoded one is an ordinary name).
function seg(name) {
  const e = encodeURIComponent(name);
  return (e === '.' || e === '..') ? e.replace(/\./g, '%2E') : e;
}
function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  }
  const t = u.toString();
  return t ? '?' + t : '';
}
// fetch() with the key; credentials 'omit' so that no cookie is sent and
// the browser never pops up its own login dialog on a 401. Resolves to
// {status, headers, doc}; rejects with ApiError on any non-2xx.
async function api(method, path, opts = {}) {
  if (!path.startsWith('/v0')) throw new Error('not an API path: ' + path);
  const key = opts.key !== undefined ? opts.key : getKey();
  const headers = { Accept: 'application/json', Authorization: basic(key || '') };
  let body;
  if (opts.body !== undefined) {
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    headers['Content-Type'] = opts.contentType || 'application/json';
  }
  Object.assign(headers, opts.headers || {});
  let resp;
  try {
    resp = await fetch(path, { method, headers, body, credentials: 'omit',
      cache: 'no-store', redirect: 'error', referrerPolicy: 'no-referrer' });
  } catch (e) {
    throw new Error('The server could not be reached: ' + e.message);
  }
  const text = await resp.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
  if (!resp.ok) {
    const code = doc && doc.code ? doc.code : 'http_' + resp.status;
    const msg = doc && doc.message ? doc.message : (text || resp.statusText);
    const err = new ApiError(resp.status, code, msg, doc && doc.details);
    if (resp.status === 401 && !opts.key) onUnauthorized(err);
    throw err;
  }
  return { status: resp.status, headers: resp.headers, doc };
}
// A next/prev link of a list (always a relative /v0/... path).
function link(doc, rel) {
  const v = doc && doc[rel];
  return typeof v === 'string' && v.startsWith('/v0/') ? v : null;
}
function linkParams(url) {
  return url ? new URL(url, location.origin).searchParams : null;
}
function itemPath(c, k) { return '/v0/' + seg(c) + '/' + seg(k); }
function unquote(etag) { return etag ? etag.replace(/^W\//, '').replace(/^"|"$/g, '') : ''; }
// A Lucene phrase for a name (search for a key or a collection).
function phrase(t) { return '"' + t.replace(/[\\"]/g, '\\$&') + '"'; }

// ---- routing ------------------------------------------------------------------
// #/                      collections
// #/c/COLL?startKey=..    a collection's items (afterKey too)
// #/i/COLL/KEY            an item
// #/s/COLL?q=..&agg=..    search in a collection
function hashFor(kind, parts, params) {
  return '#/' + kind + parts.map((p) => '/' + encodeURIComponent(p)).join('') + qs(params || {});
}
function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const qi = raw.indexOf('?');
  const pathPart = qi < 0 ? raw : raw.slice(0, qi);
  const params = new URLSearchParams(qi < 0 ? '' : raw.slice(qi + 1));
  const dec = (p) => { try { return decodeURIComponent(p); } catch (e) { return p; } };
  const parts = pathPart.split('/').filter((p) => p !== '').map(dec);
  return { kind: parts[0] || '', parts: parts.slice(1), params };
}

let renderToken = 0;
async function route() {
  const token = ++renderToken;
  if (!getKey()) { renderLogin(); return; }
  nav.hidden = false;
  const r = parseHash();
  const view = h('div', {});
  main.replaceChildren(view);
  try {
    if (r.kind === 'c' && r.parts.length === 1) await viewCollection(view, r.parts[0], r.params);
    else if (r.kind === 'i' && r.parts.length === 2) await viewItem(view, r.parts[0], r.parts[1]);
    else if (r.kind === 's' && r.parts.length === 1) await viewSearch(view, r.parts[0], r.params);
    else await viewCollections(view);
  } catch (e) {
    if (token === renderToken) showError(e);
  }
  const h2 = view.querySelector('h2');
  if (h2 && token === renderToken && !view.contains(document.activeElement)) {
    h2.setAttribute('tabindex', '-1');
    h2.focus();
  }
}

function onUnauthorized(err) {
  sessionStorage.removeItem(KEY_STORE);
  renderLogin();
  showError(err, 'Signed out: the API key was refused.');
  err.handled = true;
}

// ---- login --------------------------------------------------------------------
function renderLogin() {
  nav.hidden = true;
  const input = h('input', { type: 'password', id: 'key', name: 'key', autocomplete: 'off',
    required: true, spellcheck: 'false' });
  const form = h('form.login', { id: 'login', 'aria-labelledby': 'login-h' },
    h('h2', { id: 'login-h' }, 'Sign in'),
    h('p.meta', {}, 'Your API key is sent with each request to this server and kept in this ' +
      'tab\u2019s session storage until you sign out or close the tab.'),
    h('label', { for: 'key' }, 'API key', input),
    h('p', {}, h('button', { type: 'submit', id: 'signin' }, 'Sign in')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    try {
      await api('GET', '/v0', { key });
      sessionStorage.setItem(KEY_STORE, key);
      clearStatus();
      route();
    } catch (e) {
      showError(e, 'Sign-in failed:');
      input.focus();
    }
  });
  main.replaceChildren(form);
  input.focus();
}

document.getElementById('signout').addEventListener('click', () => {
  sessionStorage.removeItem(KEY_STORE);
  clearStatus();
  location.hash = '#/';
  renderLogin();
});

// ---- collections ------------------------------------------------------------
async function viewCollections(view) {
  const { doc } = await api('GET', '/v0');
  const rows = (doc.results || []).map((r) => h('tr', {},
    h('td', {}, h('a', { href: hashFor('c', [r.collection]) }, r.collection)),
    h('td.num', {}, String(r.items))));
  const open = h('input', { id: 'open-coll', name: 'collection', required: true });
  const form = h('form.row', { id: 'open-form' },
    h('label', { for: 'open-coll' }, 'Open a collection by name', open),
    h('button', { type: 'submit' }, 'Open'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = hashFor('c', [open.value]);
  });
  view.append(h('h2', {}, 'Collections'),
    h('section', {},
      rows.length ? h('table', { id: 'collections' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Collection'), h('th.num', {}, 'Items'))),
        h('tbody', {}, rows))
        : h('p', {}, 'No collection holds any item yet.'),
      h('p.meta', {}, String(doc.count || 0), ' collections; counts are of live items.'),
      form));
}

// ---- a collection's items -----------------------------------------------------
// Key-range paging: each page starts at startKey or after afterKey; the API's
// next link gives the afterKey of the following page. The keys the user came
// from are kept (per collection, in memory) for "Previous page".
const backStack = { coll: null, stack: [] };

async function viewCollection(view, coll, params) {
  const limit = PAGE_SIZES.includes(Number(params.get('limit'))) ? Number(params.get('limit')) : 10;
  const cursor = {};
  if (params.get('afterKey')) cursor.afterKey = params.get('afterKey');
  else if (params.get('startKey')) cursor.startKey = params.get('startKey');
  if (backStack.coll !== coll) { backStack.coll = coll; backStack.stack = []; }

  const { doc } = await api('GET', '/v0/' + seg(coll) + qs({ limit, values: 'false', ...cursor }));
  const rows = (doc.results || []).map((r) => h('tr', {},
    h('td', {}, h('a', { href: hashFor('i', [coll, r.path.key]) }, r.path.key)),
    h('td.mono', {}, r.path.ref),
    h('td', {}, isoTime(r.path.reftime))));
  const nextParams = linkParams(link(doc, 'next'));
  const pager = h('div.pager', {},
    h('button', { type: 'button', id: 'items-first', disabled: !cursor.afterKey && !cursor.startKey,
      onclick: () => { backStack.stack = []; location.hash = hashFor('c', [coll], { limit }); } }, 'First page'),
    h('button', { type: 'button', id: 'items-prev', disabled: backStack.stack.length === 0,
      onclick: () => { location.hash = backStack.stack.pop(); } }, 'Previous page'),
    h('button', { type: 'button', id: 'items-next', disabled: !nextParams,
      onclick: () => {
        backStack.stack.push(location.hash || '#/');
        const p = { limit };
        for (const k of ['afterKey', 'startKey']) if (nextParams.get(k)) p[k] = nextParams.get(k);
        location.hash = hashFor('c', [coll], p);
      } }, 'Next page'),
    h('span.meta', { id: 'items-count' }, String(doc.count), ' items on this page',
      cursor.afterKey ? ' (after \u201c' + cursor.afterKey + '\u201d)' : '',
      cursor.startKey ? ' (from \u201c' + cursor.startKey + '\u201d)' : ''));

  const size = h('select', { id: 'page-size' },
    PAGE_SIZES.map((n) => h('option', { value: n, selected: n === limit }, String(n))));
  const startAt = h('input', { id: 'start-key', name: 'startKey', value: cursor.startKey || '' });
  const jump = h('form.row', { id: 'jump-form' },
    h('label', { for: 'start-key' }, 'Start at key', startAt),
    h('label', { for: 'page-size' }, 'Page size', size),
    h('button', { type: 'submit' }, 'Show'));
  jump.addEventListener('submit', (ev) => {
    ev.preventDefault();
    backStack.stack = [];
    location.hash = hashFor('c', [coll], { limit: size.value, startKey: startAt.value });
  });

  const newKey = h('input', { id: 'new-key', name: 'key', required: true });
  const newVal = h('textarea', { id: 'new-value', name: 'value', required: true }, '{}');
  const create = h('form', { id: 'create-form' },
    h('h3', {}, 'New item'),
    h('div.row', {}, h('label', { for: 'new-key' }, 'Key', newKey)),
    h('label', { for: 'new-value' }, 'Value (a JSON object)'), newVal,
    h('p.meta', {}, 'Created with If-None-Match: * \u2014 an existing item is never overwritten.'),
    h('button', { type: 'submit' }, 'Create item'));
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let value;
    try { value = JSON.parse(newVal.value); } catch (e) { showError('The value is not valid JSON: ' + e.message); return; }
    try {
      await api('PUT', itemPath(coll, newKey.value), { body: value, headers: { 'If-None-Match': '"*"' } });
      showOk('Created ' + coll + '/' + newKey.value + '.');
      location.hash = hashFor('i', [coll, newKey.value]);
    } catch (e) { showError(e, 'Not created:'); }
  });

  view.append(h('h2', {}, 'Collection ', h('span.mono', {}, coll)),
    h('p', {}, h('a', { href: '#/' }, '\u2190 Collections'), ' \u00b7 ',
      h('a', { href: hashFor('s', [coll]), id: 'search-link' }, 'Search this collection')),
    h('section', {}, jump,
      rows.length ? h('table', { id: 'items' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th', {}, 'Ref'), h('th', {}, 'Written'))),
        h('tbody', {}, rows)) : h('p', {}, 'No items on this page.'),
      pager),
    h('section', {}, create));
}

// ---- an item --------------------------------------------------------------------
async function viewItem(view, coll, key) {
  const path = itemPath(coll, key);
  view.append(h('h2', {}, h('span.mono', {}, coll), ' / ', h('span.mono', { id: 'item-key' }, key)),
    h('p', {}, h('a', { href: hashFor('c', [coll]) }, '\u2190 ' + coll)));
  const valueSec = h('section', { id: 'value-section' });
  const historySec = h('section', { id: 'history-section' });
  const eventsSec = h('section', { id: 'events-section' });
  const relSec = h('section', { id: 'relations-section' });
  view.append(h('div.grid', {}, valueSec, historySec), eventsSec, relSec);

  const state = { etag: null, value: null };
  async function loadValue() {
    let r = null;
    try { r = await api('GET', path); } catch (e) {
      if (!(e instanceof ApiError && e.status === 404)) throw e;
    }
    state.etag = r ? unquote(r.headers.get('ETag')) : null;
    state.value = r ? r.doc : null;
    renderValue(r);
  }
  function renderValue(r) {
    const editor = h('textarea', { id: 'edit-value', 'aria-label': 'New value (JSON)' },
      state.value ? pretty(state.value) : '{}');
    const patch = h('textarea', { id: 'edit-patch', 'aria-label': 'Patch (JSON)' },
      '[{"op": "replace", "path": "/field", "value": 1}]');
    const confirmDel = h('button.danger.hidden', { type: 'button', id: 'delete-confirm' }, 'Confirm delete');
    const cond = () => (state.etag ? { 'If-Match': '"' + state.etag + '"' } : { 'If-None-Match': '"*"' });
    async function write(what, fn) {
      try {
        await fn();
        showOk(what + ' done.');
        await Promise.all([loadValue(), history.load(0)]);
      } catch (e) {
        if (e instanceof ApiError && e.status === 412) {
          showError(e, 'Not saved: the item changed since you loaded it (ETag ' + (state.etag || 'none') +
            '), so nothing was written. Reload to see the current version, then try again.');
        } else showError(e, what + ' failed:');
      }
    }
    const save = h('form', { id: 'put-form' },
      h('h3', {}, 'Replace (PUT)'), editor,
      h('button', { type: 'submit', id: 'put-button' }, 'Save'));
    save.addEventListener('submit', (ev) => {
      ev.preventDefault();
      let v;
      try { v = JSON.parse(editor.value); } catch (e) { showError('The value is not valid JSON: ' + e.message); return; }
      write('Save', () => api('PUT', path, { body: v, headers: cond() }));
    });
    const pform = h('form', { id: 'patch-form' },
      h('h3', {}, 'Patch (PATCH)'),
      h('p.meta', {}, 'An array is a JSON Patch (Orchestrate\u2019s ops too), an object a merge patch.'),
      patch, h('button', { type: 'submit', id: 'patch-button' }, 'Apply patch'));
    pform.addEventListener('submit', (ev) => {
      ev.preventDefault();
      let v;
      try { v = JSON.parse(patch.value); } catch (e) { showError('The patch is not valid JSON: ' + e.message); return; }
      const type = Array.isArray(v) ? 'application/json-patch+json' : 'application/merge-patch+json';
      write('Patch', () => api('PATCH', path, { body: v, contentType: type, headers: cond() }));
    });
    confirmDel.addEventListener('click', () =>
      write('Delete', () => api('DELETE', path, { headers: cond() })));
    const del = h('div.row', {},
      h('button.danger', { type: 'button', id: 'delete-button', disabled: !state.etag,
        onclick: () => { confirmDel.classList.remove('hidden'); confirmDel.focus(); } }, 'Delete\u2026'),
      confirmDel);
    valueSec.replaceChildren(
      h('h3', {}, 'Current value'),
      state.etag
        ? h('p.meta', {}, 'ETag ', h('code', { id: 'etag' }, state.etag),
          r && r.headers.get('Last-Modified') ? ' \u00b7 ' + r.headers.get('Last-Modified') : '')
        : h('p.meta', { id: 'etag' }, 'No live version (never written, or deleted).'),
      h('pre', { id: 'current-value' }, state.value ? pretty(state.value) : ''),
      h('div.row', {}, h('button', { type: 'button', id: 'reload', onclick: () =>
        Promise.all([loadValue(), history.load(0)]).then(clearStatus).catch((e) => showError(e)) }, 'Reload')),
      h('p.meta', {}, 'Writes below send If-Match with this ETag: a change by anyone else meanwhile ' +
        'makes them fail with 412 and write nothing.'),
      save, pform, del);
  }

  const history = historyPanel(historySec, coll, key, path, state, async () => {
    await Promise.all([loadValue(), history.load(0)]);
  });
  await loadValue();
  await history.load(0);
  eventsPanel(eventsSec, coll, key, path);
  relationsPanel(relSec, coll, key, path);
}

// The version history: newest first, paged by offset; two versions picked as
// A and B are compared field by field; an old version can be restored.
function historyPanel(sec, coll, key, path, state, reload) {
  const limit = 10;
  const picks = { a: null, b: null };
  const diffBox = h('div', { id: 'diff' });
  const panel = { offset: 0 };
  panel.load = async function (offset) {
    let doc;
    try {
      ({ doc } = await api('GET', path + '/refs' + qs({ values: 'true', limit, offset })));
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        sec.replaceChildren(h('h3', {}, 'History'), h('p', {}, 'No versions.'));
        return;
      }
      throw e;
    }
    panel.offset = offset;
    const results = doc.results || [];
    if (offset === 0 && results.length) {
      picks.b = picks.b || results[0];
      picks.a = picks.a || results[1] || results[0];
    }
    const items = results.map((r, i) => {
      const ref = r.path.ref;
      const tomb = !!r.path.tombstone;
      const current = offset === 0 && i === 0 && !tomb;
      const id = 'v-' + (offset + i);
      const radioA = h('input', { type: 'radio', name: 'diff-a', id: id + '-a', value: ref,
        checked: picks.a && picks.a.path.ref === ref && picks.a.path.reftime === r.path.reftime,
        onchange: () => { picks.a = r; } });
      const radioB = h('input', { type: 'radio', name: 'diff-b', id: id + '-b', value: ref,
        checked: picks.b && picks.b.path.ref === ref && picks.b.path.reftime === r.path.reftime,
        onchange: () => { picks.b = r; } });
      const restore = !tomb && !current && h('button', { type: 'button', class: 'restore',
        'data-ref': ref, onclick: async () => {
          try {
            const cond = state.etag ? { 'If-Match': '"' + state.etag + '"' } : { 'If-None-Match': '"*"' };
            await api('PUT', path, { body: r.value, headers: cond });
            showOk('Restored version ' + ref + ' as a new version.');
            await reload();
          } catch (e) {
            if (e instanceof ApiError && e.status === 412) {
              showError(e, 'Not restored: the item changed since you loaded it, so nothing was written. Reload and try again.');
            } else showError(e, 'Restore failed:');
          }
        } }, 'Restore this version');
      const view = !tomb && h('details', {}, h('summary', {}, 'Value'), h('pre', {}, pretty(r.value)));
      return h('li' + (tomb ? '.tomb' : current ? '.current' : ''), { 'data-ref': ref },
        h('div', {}, h('strong', {}, isoTime(r.path.reftime)), ' ',
          h('code', {}, ref.slice(0, 16)),
          tomb ? h('span.tag.tomb', {}, 'deleted') : null,
          current ? h('span.tag.cur', {}, 'current') : null),
        h('div.row', {},
          h('label.inline', { for: id + '-a' }, radioA, 'A'),
          h('label.inline', { for: id + '-b' }, radioB, 'B'),
          restore),
        view);
    });
    const next = link(doc, 'next');
    sec.replaceChildren(
      h('h3', {}, 'History'),
      h('ol.timeline', { id: 'history', 'aria-label': 'Versions, newest first' }, items),
      h('div.pager', {},
        h('button', { type: 'button', id: 'history-newer', disabled: offset === 0,
          onclick: () => panel.load(Math.max(0, offset - limit)).catch((e) => showError(e)) }, 'Newer'),
        h('button', { type: 'button', id: 'history-older', disabled: !next,
          onclick: () => panel.load(offset + limit).catch((e) => showError(e)) }, 'Older'),
        h('span.meta', {}, 'versions ', String(offset + 1), '\u2013', String(offset + results.length))),
      h('div.row', {}, h('button', { type: 'button', id: 'diff-button', onclick: () => {
        diffBox.replaceChildren(renderDiff(picks.a, picks.b));
      } }, 'Compare A \u2192 B')),
      diffBox);
  };
  return panel;
}

// Flattens a JSON value to {path: JSON text of the leaf}.
function flatten(v, prefix, out) {
  if (v !== null && typeof v === 'object' && Object.keys(v).length) {
    for (const [k, x] of Object.entries(v)) {
      flatten(x, prefix === '' ? (Array.isArray(v) ? '[' + k + ']' : k)
        : prefix + (Array.isArray(v) ? '[' + k + ']' : '.' + k), out);
    }
  } else {
    out[prefix === '' ? '(value)' : prefix] = JSON.stringify(v);
  }
  return out;
}
function renderDiff(a, b) {
  if (!a || !b) return h('p', {}, 'Pick two versions, A and B.');
  const fa = a.path.tombstone ? {} : flatten(a.value, '', {});
  const fb = b.path.tombstone ? {} : flatten(b.value, '', {});
  const keys = [...new Set([...Object.keys(fa), ...Object.keys(fb)])].sort();
  const rows = [];
  for (const k of keys) {
    if (fa[k] === fb[k]) continue;
    const kind = fa[k] === undefined ? 'added' : fb[k] === undefined ? 'removed' : 'changed';
    rows.push(h('tr.' + kind, { 'data-path': k },
      h('td', {}, k), h('td', {}, kind), h('td.a', {}, fa[k] ?? ''), h('td.b', {}, fb[k] ?? '')));
  }
  const head = h('p.meta', {}, 'A ', h('code', {}, a.path.ref.slice(0, 16)), ' (', isoTime(a.path.reftime),
    ') \u2192 B ', h('code', {}, b.path.ref.slice(0, 16)), ' (', isoTime(b.path.reftime), ')');
  if (!rows.length) return h('div', {}, head, h('p', { id: 'diff-none' }, 'No differences.'));
  return h('div', {}, head, h('table.diff', { id: 'diff-table' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Field'), h('th', {}, 'Change'), h('th', {}, 'A'), h('th', {}, 'B'))),
    h('tbody', {}, rows)));
}

// Names found by a search aggregate (event types of an item, relation kinds
// out of it); an empty list when search is off or fails.
async function suggest(coll, query, field) {
  try {
    const { doc } = await api('GET', '/v0/' + seg(coll) +
      qs({ query, limit: 0, aggregate: field + ':top_values:limit:100' }));
    const agg = (doc.aggregates || [])[0];
    return agg && agg.entries ? agg.entries.map((e) => ({ name: String(e.value), count: e.count })) : [];
  } catch (e) {
    return [];
  }
}

// Shows the names suggest() found as buttons (each fills input and runs
// show) and as the input's datalist, and fills in the first.
function showNames(box, datalist, input, list, lead, none, show) {
  datalist.replaceChildren(...list.map((v) => h('option', { value: v.name })));
  if (!list.length) { box.replaceChildren(none); return; }
  box.replaceChildren(lead, ...list.map((v) => h('button', { type: 'button', class: 'name',
    onclick: () => { input.value = v.name; show(); } }, v.name + ' (' + v.count + ')')));
  if (!input.value) input.value = list[0].name;
}

// Events of one type on a time axis; a range (typed, or dragged on the
// axis) bounds the list; pages of 10 newest first, "Older" follows next.
function eventsPanel(sec, coll, key, path) {
  const typeIn = h('input', { id: 'ev-type', name: 'type', list: 'ev-types', required: true });
  const types = h('datalist', { id: 'ev-types' });
  const fromIn = h('input', { id: 'ev-from', name: 'from', placeholder: 'e.g. 2024-01-01T00:00:00Z' });
  const toIn = h('input', { id: 'ev-to', name: 'to', placeholder: 'ms or ISO 8601' });
  const sizeIn = h('select', { id: 'ev-limit' }, PAGE_SIZES.map((n) => h('option', { value: n }, String(n))));
  const out = h('div', { id: 'events' });
  const form = h('form.row', { id: 'events-form' },
    h('label', { for: 'ev-type' }, 'Event type', typeIn), types,
    h('label', { for: 'ev-from' }, 'From (inclusive)', fromIn),
    h('label', { for: 'ev-to' }, 'To (inclusive)', toIn),
    h('label', { for: 'ev-limit' }, 'Page size', sizeIn),
    h('button', { type: 'submit', id: 'events-show' }, 'Show events'));
  const addTs = h('input', { id: 'ev-new-ts', name: 'timestamp', placeholder: 'now' });
  const addVal = h('textarea', { id: 'ev-new-value', name: 'value' }, '{}');
  const add = h('form', { id: 'event-add-form' },
    h('h3', {}, 'Add an event'),
    h('div.row', {}, h('label', { for: 'ev-new-ts' }, 'Timestamp (optional)', addTs)),
    h('label', { for: 'ev-new-value' }, 'Value (a JSON object) of the type above'), addVal,
    h('button', { type: 'submit', id: 'event-add' }, 'Add event'));
  const st = { stack: [], cur: null };

  async function load(url) {
    const { doc } = await api('GET', url);
    st.cur = url;
    const results = doc.results || [];
    const next = link(doc, 'next');
    out.replaceChildren(
      axis(results),
      results.length ? h('table', { id: 'events-table' },
        h('thead', {}, h('tr', {}, h('th', {}, 'Time'), h('th', {}, 'Ordinal'), h('th', {}, 'Value'))),
        h('tbody', {}, results.map((r) => h('tr', {},
          h('td', {}, isoTime(r.timestamp)), h('td.mono', {}, r.path.ordinal_str || String(r.ordinal)),
          h('td.mono', {}, compact(r.value)))))) : h('p', {}, 'No events in this range.'),
      h('div.pager', {},
        h('button', { type: 'button', id: 'events-newer', disabled: st.stack.length === 0,
          onclick: () => load(st.stack.pop()).catch((e) => showError(e)) }, 'Newer'),
        h('button', { type: 'button', id: 'events-older', disabled: !next,
          onclick: () => { st.stack.push(url); load(next).catch((e) => showError(e)); } }, 'Older'),
        h('span.meta', { id: 'events-count' }, String(results.length), ' events on this page')));
  }
  function firstPage() {
    const p = { limit: sizeIn.value };
    if (fromIn.value.trim()) p.startEvent = fromIn.value.trim();
    if (toIn.value.trim()) p.endEvent = toIn.value.trim();
    st.stack = [];
    return load(path + '/events/' + seg(typeIn.value) + qs(p));
  }
  // The page's events on a horizontal time axis (oldest left). Dragging
  // across it selects that time range (From/To) and shows it.
  function axis(results) {
    const W = 1000, H = 64, pad = 40;
    const svg = s('svg', { class: 'axis', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none',
      role: 'img', 'aria-label': 'Events of this page on a time axis; drag to select a range' });
    if (!results.length) return svg;
    const ts = results.map((r) => Number(r.timestamp));
    let lo = Math.min(...ts), hi = Math.max(...ts);
    if (hi === lo) { lo -= 1000; hi += 1000; }
    const x = (t) => pad + (t - lo) / (hi - lo) * (W - 2 * pad);
    const t = (px) => Math.round(lo + (px - pad) / (W - 2 * pad) * (hi - lo));
    svg.append(s('line', { x1: pad, x2: W - pad, y1: 40, y2: 40 }),
      s('text', { x: pad, y: 58 }, isoTime(lo)),
      s('text', { x: W - pad, y: 58, 'text-anchor': 'end' }, isoTime(hi)));
    for (const r of results) {
      svg.append(s('circle', { class: 'ev', cx: x(Number(r.timestamp)), cy: 28, r: 5 },
        s('title', {}, isoTime(r.timestamp) + ' ' + compact(r.value, 60))));
    }
    const sel = s('rect', { class: 'sel', x: 0, y: 0, width: 0, height: H });
    svg.append(sel);
    let start = null;
    const px = (ev) => {
      const box = svg.getBoundingClientRect();
      return (ev.clientX - box.left) / box.width * W;
    };
    svg.addEventListener('pointerdown', (ev) => { start = px(ev); svg.setPointerCapture(ev.pointerId); });
    svg.addEventListener('pointermove', (ev) => {
      if (start === null) return;
      const p = px(ev);
      sel.setAttribute('x', Math.min(start, p));
      sel.setAttribute('width', Math.abs(p - start));
    });
    svg.addEventListener('pointerup', (ev) => {
      if (start === null) return;
      const p = px(ev);
      const a = Math.min(start, p), b = Math.max(start, p);
      start = null;
      if (b - a < 4) { sel.setAttribute('width', 0); return; }
      fromIn.value = isoTime(t(a));
      toIn.value = isoTime(t(b));
      firstPage().catch((e) => showError(e));
    });
    return svg;
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearStatus();
    firstPage().catch((e) => showError(e));
  });
  add.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!typeIn.value) { showError('Name the event type first (above).'); typeIn.focus(); return; }
    let v;
    try { v = JSON.parse(addVal.value); } catch (e) { showError('The value is not valid JSON: ' + e.message); return; }
    try {
      await api('POST', path + '/events/' + seg(typeIn.value) + qs({ timestamp: addTs.value.trim() }), { body: v });
      showOk('Event added.');
      await firstPage();
    } catch (e) { showError(e, 'Event not added:'); }
  });
  const typeList = h('p.meta', { id: 'ev-type-list' });
  sec.replaceChildren(h('h3', {}, 'Events'), typeList, form, out, add);
  suggest(coll, '@path.kind:event AND @path.key:' + phrase(key), '@path.type').then((list) => {
    showNames(typeList, types, typeIn, list, 'Event types of this item: ', 'No events found by search.',
      () => firstPage().catch((e) => showError(e)));
  });
}

// Items related to this one by a kind (one hop), 10 a page.
function relationsPanel(sec, coll, key, path) {
  const kindIn = h('input', { id: 'rel-kind', name: 'kind', list: 'rel-kinds', required: true });
  const kinds = h('datalist', { id: 'rel-kinds' });
  const out = h('div', { id: 'relations' });
  const form = h('form.row', { id: 'relations-form' },
    h('label', { for: 'rel-kind' }, 'Relation kind', kindIn), kinds,
    h('button', { type: 'submit', id: 'relations-show' }, 'Show related items'));
  async function load(url) {
    const { doc } = await api('GET', url);
    const results = doc.results || [];
    const next = link(doc, 'next'), prev = link(doc, 'prev');
    out.replaceChildren(
      results.length ? h('ul', { id: 'relations-list' }, results.map((r) => h('li', {},
        h('a', { href: hashFor('i', [r.path.collection, r.path.key]) }, r.path.collection + '/' + r.path.key),
        ' ', h('span.meta', {}, compact(r.value, 80))))) : h('p', {}, 'No related items.'),
      h('div.pager', {},
        h('button', { type: 'button', disabled: !prev, onclick: () => load(prev).catch((e) => showError(e)) }, 'Previous'),
        h('button', { type: 'button', disabled: !next, onclick: () => load(next).catch((e) => showError(e)) }, 'Next')));
  }
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearStatus();
    load(path + '/relations/' + seg(kindIn.value) + qs({ limit: 10 })).catch((e) => showError(e));
  });
  const kindList = h('p.meta', { id: 'rel-kind-list' });
  sec.replaceChildren(h('h3', {}, 'Relations'), kindList, form, out);
  suggest(coll, '@path.kind:relationship AND @path.source.key:' + phrase(key), '@path.relation').then((list) => {
    showNames(kindList, kinds, kindIn, list, 'Relation kinds out of this item: ', 'No relations found by search.',
      () => form.requestSubmit());
  });
}

// ---- search -------------------------------------------------------------------
async function viewSearch(view, coll, params) {
  const q = params.get('q') || '';
  const agg = params.get('agg') || '';
  const limit = PAGE_SIZES.includes(Number(params.get('limit'))) ? Number(params.get('limit')) : 10;
  const offset = Math.max(0, Number(params.get('offset')) || 0);
  const qIn = h('input', { id: 'search-q', name: 'query', value: q, required: true, size: 40,
    placeholder: 'e.g. name:ada* AND age:[30 TO 40]' });
  const aggIn = h('input', { id: 'search-agg', name: 'aggregate', value: agg, size: 40,
    placeholder: 'e.g. value.age:stats,value.city:top_values' });
  const form = h('form.row', { id: 'search-form' },
    h('label', { for: 'search-q' }, 'Query (Lucene syntax)', qIn),
    h('label', { for: 'search-agg' }, 'Aggregates (optional)', aggIn),
    h('button', { type: 'submit' }, 'Search'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = hashFor('s', [coll], { q: qIn.value, agg: aggIn.value, limit });
  });
  view.append(h('h2', {}, 'Search ', h('span.mono', {}, coll)),
    h('p', {}, h('a', { href: hashFor('c', [coll]) }, '\u2190 ' + coll)), h('section', {}, form));
  if (!q) return;
  const { doc } = await api('GET', '/v0/' + seg(coll) + qs({ query: q, limit, offset, aggregate: agg }));
  const results = doc.results || [];
  const go = (url) => {
    const p = linkParams(url);
    location.hash = hashFor('s', [coll], { q, agg, limit, offset: p.get('offset') || 0 });
  };
  const next = link(doc, 'next'), prev = link(doc, 'prev');
  view.append(h('section', {},
    h('p.meta', { id: 'search-total' }, String(doc.total_count), ' matches'),
    results.length ? h('table', { id: 'search-results' },
      h('thead', {}, h('tr', {}, h('th', {}, 'Key'), h('th.num', {}, 'Score'), h('th', {}, 'Value'))),
      h('tbody', {}, results.map((r) => h('tr', {},
        h('td', {}, h('a', { href: hashFor('i', [r.path.collection, r.path.key]) }, r.path.key)),
        h('td.num', {}, r.score !== undefined ? Number(r.score).toFixed(2) : ''),
        h('td.mono', {}, compact(r.value)))))) : h('p', {}, 'No matches.'),
    h('div.pager', {},
      h('button', { type: 'button', disabled: !prev, onclick: () => go(prev) }, 'Previous'),
      h('button', { type: 'button', disabled: !next, onclick: () => go(next) }, 'Next'))),
  (doc.aggregates || []).length ? h('section', {}, h('h3', {}, 'Aggregates'),
    h('div.aggs', { id: 'aggregates' }, doc.aggregates.map(renderAggregate))) : null);
}

function renderAggregate(a) {
  const title = h('h3', {}, a.field_name + ' \u00b7 ' + a.aggregate_kind,
    h('span.meta', {}, ' (' + a.value_count + ' values)'));
  if (a.statistics) {
    return h('div.agg', {}, title, h('table', {}, Object.entries(a.statistics).map(([k, v]) =>
      h('tr', {}, h('th', {}, k), h('td.num', {}, String(v))))));
  }
  const rows = (a.entries || a.buckets || []).map((e) => {
    let label;
    if ('value' in e) label = typeof e.value === 'string' ? e.value : JSON.stringify(e.value);
    else if ('bucket' in e) label = String(e.bucket);
    else label = (e.min ?? '*') + ' \u2013 ' + (e.max ?? '*');
    return { label, count: Number(e.count) || 0 };
  });
  return h('div.agg', {}, title, barChart(rows));
}
// Horizontal bars, one per row, scaled to the largest count.
function barChart(rows) {
  const W = 320, lh = 20, lw = 110;
  const max = Math.max(1, ...rows.map((r) => r.count));
  const svg = s('svg', { class: 'chart', width: W, height: Math.max(lh, rows.length * lh),
    viewBox: `0 0 ${W} ${Math.max(lh, rows.length * lh)}`, role: 'img', 'aria-label': 'Bar chart' });
  rows.forEach((r, i) => {
    const y = i * lh;
    const w = Math.max(1, (r.count / max) * (W - lw - 50));
    svg.append(
      s('text', { x: 0, y: y + 14 }, r.label.length > 16 ? r.label.slice(0, 15) + '\u2026' : r.label),
      s('rect', { class: 'bar', x: lw, y: y + 3, width: w, height: lh - 6 }, s('title', {}, r.label + ': ' + r.count)),
      s('text', { x: lw + w + 4, y: y + 14 }, String(r.count)));
  });
  return svg;
}

window.addEventListener('hashchange', () => { clearStatus(); route(); });
route();
