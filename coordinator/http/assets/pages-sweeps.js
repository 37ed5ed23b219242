// The sweeps list: status, progress, age, tags; filter by status, search by name, id or tag.
// Rows update in place from the `sweeps` events; new sweeps appear by refetching the list.
import { age, api, fill, badge, bar, h, pct, table } from './lib.js';

const STATUSES = ['', 'running', 'succeeded', 'failed', 'cancelled'];

export async function sweepsPage(params) {
  const state = { status: params.get('status') ?? '', q: params.get('q') ?? '' };
  const body = h('div', {});
  const setQuery = () => {
    const p = new URLSearchParams();
    if (state.status) p.set('status', state.status);
    if (state.q) p.set('q', state.q);
    history.replaceState(null, '', `#/${p.size ? `?${p}` : ''}`);
  };
  let sweeps = [];
  const load = async () => {
    const p = new URLSearchParams({ limit: '200' });
    if (state.status) p.set('status', state.status);
    if (state.q) p.set('q', state.q);
    sweeps = (await api(`/api/sweeps?${p}`)).sweeps;
    draw();
  };
  const draw = () => fill(body, table([
    { label: 'sweep', get: (s) => h('a', { href: `#/sweep/${encodeURIComponent(s.id)}` }, s.name) },
    { label: 'id', get: (s) => h('span', { class: 'muted' }, s.id) },
    { label: 'status', get: (s) => badge(s.status) },
    { label: 'progress', get: (s) => h('div', { class: 'row' }, h('div', { class: 'grow' }, bar(s.counts, s.counts.total, s.counts.running ? s.counts.running * 0.5 : 0)), h('span', { class: 'muted' }, `${pct(s.progress)} of ${s.counts.total}`)) },
    { label: 'running', num: true, get: (s) => s.counts.running ?? 0 },
    { label: 'failed', num: true, get: (s) => s.counts.failed ?? 0 },
    { label: 'arms', num: true, get: (s) => s.arms },
    { label: 'age', num: true, get: (s) => age(s.createdMs) },
    { label: 'tags', get: (s) => s.tags.map((t) => h('span', { class: 'tag', onclick: (ev) => { ev.stopPropagation(); search.value = t; state.q = t; setQuery(); load(); } }, t)) },
  ], sweeps, { class: 'sweeps', empty: state.q || state.status ? 'No sweep matches.' : 'No sweeps yet: submit one with `limolab sweep submit <spec.yaml>`.',
    onclick: (s) => { location.hash = `#/sweep/${encodeURIComponent(s.id)}`; } }));

  const statusSel = h('select', { 'aria-label': 'status', onchange: () => { state.status = statusSel.value; setQuery(); load(); } },
    STATUSES.map((s) => h('option', { value: s, selected: s === state.status }, s || 'any status')));
  let debounce;
  const search = h('input', { type: 'search', placeholder: 'search name, id or tag', value: state.q, 'aria-label': 'search',
    oninput: () => { clearTimeout(debounce); debounce = setTimeout(() => { state.q = search.value.trim(); setQuery(); load(); }, 200); } });
  await load();
  return {
    el: h('div', {}, h('div', { class: 'row', style: 'margin-bottom:12px' }, h('h1', { class: 'grow' }, 'Sweeps'), statusSel, search), h('div', { class: 'card' }, body)),
    onEvent(type, data) {
      if (type !== 'sweeps') return;
      let unknown = false;
      for (const s of data) {
        const i = sweeps.findIndex((x) => x.id === s.id);
        if (i >= 0) sweeps[i] = { ...s, tags: s.tags.length ? s.tags : sweeps[i].tags };
        else unknown = true;
      }
      if (unknown) load(); else draw();
    },
  };
}
