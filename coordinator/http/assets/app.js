// The dashboard's shell: hash routes (#/, #/sweep/ID, #/task/ID, #/workers, #/compare),
// one EventSource per page for live updates, and the login form shown whenever the API
// answers 401. Pages live in pages-*.js; each returns { events, onEvent } for its stream.
import { api, fill, h, post, Unauthorized } from './lib.js';
import { sweepsPage } from './pages-sweeps.js';
import { sweepPage } from './pages-sweep.js';
import { taskPage, workersPage, comparePage } from './pages-other.js';

const main = document.getElementById('main');
const live = document.getElementById('live');
let stream = null;
let current = null;

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = hash.split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of document.querySelectorAll('[data-nav]')) a.classList.toggle('active', a.dataset.nav === (parts[0] === 'sweep' || parts[0] === 'task' || !parts[0] ? 'sweeps' : parts[0]));
  if (!parts[0]) return () => sweepsPage(params);
  if (parts[0] === 'sweep' && parts[1]) return () => sweepPage(parts[1]);
  if (parts[0] === 'task' && parts[1]) return () => taskPage(parts[1]);
  if (parts[0] === 'workers') return () => workersPage();
  if (parts[0] === 'compare') return () => comparePage(params);
  return () => ({ el: h('p', { class: 'error' }, `No page at #${hash}.`) });
}

async function show() {
  closeStream();
  // A figure's tooltip lives on <body>: hide it when its page goes away.
  document.getElementById('vg-tooltip-element')?.classList.remove('visible');
  current = null;
  try {
    const page = await route()();
    current = page;
    fill(main, page.el);
    openStream(page.events ?? '');
  } catch (e) {
    if (e instanceof Unauthorized) return showLogin();
    fill(main, h('p', { class: 'error' }, e.message));
  }
}

function openStream(query) {
  stream = new EventSource(`/api/events${query ? `?${query}` : ''}`);
  stream.onopen = () => { live.textContent = 'live'; live.className = 'live on'; };
  stream.onerror = async () => {
    live.textContent = 'reconnecting'; live.className = 'live off';
    // An EventSource cannot see a 401; ask the API whether the session is still good.
    try { await api('/api/session'); } catch (e) { if (e instanceof Unauthorized) { closeStream(); showLogin(); } }
  };
  for (const type of ['sweeps', 'progress', 'workers', 'task']) {
    stream.addEventListener(type, (ev) => {
      if (!current?.onEvent) return;
      try { current.onEvent(type, JSON.parse(ev.data)); } catch (e) { console.warn(`dashboard: ${type} update failed: ${e.message}`); }
    });
  }
}

function closeStream() {
  stream?.close();
  stream = null;
  live.textContent = 'offline'; live.className = 'live off';
}

function showLogin(message) {
  closeStream();
  const failed = new URLSearchParams(location.search).get('login') === 'failed';
  const err = h('p', { class: 'error', hidden: !(message || failed) }, message ?? (failed ? 'That token was not accepted.' : ''));
  const input = h('input', { type: 'password', name: 'token', placeholder: 'token', autocomplete: 'current-password', required: true, 'aria-label': 'token' });
  const form = h('form', { onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      await post('/login', { token: input.value });
      if (location.search) history.replaceState(null, '', `/${location.hash}`);
      show();
    } catch (e) { err.hidden = false; err.textContent = e.message; }
  } }, input, h('button', { type: 'submit' }, 'Log in'));
  fill(main, h('div', { class: 'card login', id: 'login' },
    h('h1', {}, 'Log in'),
    h('p', { class: 'muted' }, 'This coordinator requires its token (the --token it was started with, or LIMOLAB_TOKEN).'),
    err, form));
  input.focus();
}

window.addEventListener('hashchange', show);
show();
