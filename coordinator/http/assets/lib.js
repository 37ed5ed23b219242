// Shared helpers of the dashboard's pages: DOM building (text only, never HTML strings,
// since names, errors and logs come from users and workers), the API client, formatting,
// progress bars, tables, and vega-embed loaded on first use from this server.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style') el.setAttribute('style', v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** Replaces an element's children; arrays are flattened and null/false left out, as in h(). */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
  return el;
}

export class Unauthorized extends Error {}

/** JSON from the coordinator; 401 raises Unauthorized (the app then shows the login form). */
export async function api(path, opts = {}) {
  const res = await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json', ...(opts.body ? { 'content-type': 'application/json' } : {}) }, ...opts });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (res.status === 401) throw new Unauthorized(body.error);
  if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`);
  return body;
}

export const post = (path, body = {}) => api(path, { method: 'POST', body: JSON.stringify(body) });

export function age(ms, now = Date.now()) {
  if (!ms) return '-';
  return duration((now - ms) / 1000);
}

export function duration(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '-';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export const time = (ms) => (ms ? new Date(ms).toLocaleString() : '-');
export const sci = (v) => (v === null || v === undefined ? '-' : v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-2 ? v.toExponential(2) : String(Number(v.toPrecision(4))));
export const money = (v) => (v < 1 ? `$${v.toPrecision(2)}` : `$${v.toFixed(2)}`);
export const badge = (s) => h('span', { class: `badge ${s}` }, s);
export const pct = (f) => `${Math.round(f * 100)}%`;

/** A stacked bar: succeeded, running (by progress), failed, skipped/cancelled, of total. */
export function bar(c, total, runningFraction = 0) {
  const w = (n) => `width:${total ? (100 * n) / total : 0}%`;
  return h('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': total ? Math.round((100 * ((c.succeeded ?? 0) + (c.cached ?? 0))) / total) : 0 },
    h('span', { class: 'ok', style: w((c.succeeded ?? 0) + (c.cached ?? 0)) }),
    h('span', { class: 'run', style: w(runningFraction || 0) }),
    h('span', { class: 'fail', style: w(c.failed ?? 0) }),
    h('span', { class: 'skip', style: w((c.skipped ?? 0) + (c.cancelled ?? 0)) }));
}

/** A table from column specs {label, get(row), num, cls}; rows with `onclick` become links. */
export function table(cols, rows, opts = {}) {
  return h('div', { class: 'scroll' }, h('table', { class: opts.class },
    h('thead', {}, h('tr', {}, cols.map((c) => h('th', { class: c.num ? 'num' : '' }, c.label)))),
    h('tbody', {}, rows.length ? rows.map((r) => h('tr', { class: opts.onclick ? 'click' : '', onclick: opts.onclick ? () => opts.onclick(r) : undefined, 'data-id': r.id },
      cols.map((c) => h('td', { class: c.num ? 'num' : '' }, c.get(r))))) : h('tr', {}, h('td', { colspan: cols.length, class: 'muted' }, opts.empty ?? 'nothing yet')))));
}

/** The arm table exactly as the API formats it (the same cells as `limolab results`). */
export function armTable(t) {
  if (!t.rows.length) return h('div', {}, h('p', { class: 'muted' }, 'No arm has finished yet.'), t.note ? h('p', { class: 'note' }, t.note) : null);
  const numeric = t.columns.map((c) => c.format !== 'text');
  return h('div', {},
    h('div', { class: 'scroll' }, h('table', { class: 'arms' },
      h('thead', {}, h('tr', {}, t.columns.map((c, i) => h('th', { class: numeric[i] ? 'num' : '' }, c.label)))),
      h('tbody', {}, t.cells.map((row) => h('tr', {}, row.map((cell, i) => h('td', { class: numeric[i] ? 'num' : '' }, cell))))))),
    t.note ? h('p', { class: 'note' }, t.note) : null);
}

let vegaLoading;
function script(src) {
  return new Promise((resolve, reject) => document.head.append(h('script', { src, onload: resolve, onerror: () => reject(new Error(`cannot load ${src}`)) })));
}
/** vega, vega-lite and vega-embed, in dependency order, once. */
export function loadVega() {
  vegaLoading ??= script('/vendor/vega.min.js').then(() => script('/vendor/vega-lite.min.js')).then(() => script('/vendor/vega-embed.min.js')).then(() => window.vegaEmbed);
  return vegaLoading;
}

export async function embed(el, spec) {
  const vegaEmbed = await loadVega();
  return vegaEmbed(el, spec, { mode: 'vega-lite', actions: false, renderer: 'svg', tooltip: { theme: 'light' } });
}

export function errorBox(e) { return h('p', { class: 'error' }, e.message ?? String(e)); }
