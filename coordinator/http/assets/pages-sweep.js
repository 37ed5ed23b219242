// One sweep: live per-phase progress bars (counts and ETA from `progress` events), the
// arm table, the report's figures with tooltips (vega-embed), the ledger by phase, the
// study's verdicts when the coordinator has that analysis, its tasks, and cancel/retry.
import { age, api, fill, armTable, badge, bar, duration, embed, errorBox, h, money, pct, post, sci, table, time } from './lib.js';

export async function sweepPage(id) {
  const enc = encodeURIComponent(id);
  const first = await api(`/api/sweeps/${enc}`);
  const head = h('div', {}), progress = h('div', { class: 'card', id: 'progress' }), arms = h('div', { class: 'card', id: 'arms' });
  const figs = h('div', { class: 'card', id: 'figures' }), ledger = h('div', { class: 'card', id: 'ledger' }), study = h('div', { id: 'study' });
  const tasks = h('div', { class: 'card', id: 'tasks' }), flash = h('div', {});
  for (const [el, title] of [[arms, 'Arms'], [figs, 'Figures'], [ledger, 'Ledger by phase'], [tasks, 'Tasks']]) fill(el, h('h2', {}, title), h('p', { class: 'muted' }, 'Loading…'));
  let state = first, resultsKey = '', resultsTimer, taskFilter = '';

  const action = async (what) => {
    try {
      const r = await post(`/api/sweeps/${enc}/${what}`);
      fill(flash, h('p', { class: 'flash' }, what === 'cancel' ? 'Sweep cancelled.' : 'Retry submitted.'));
      if (r.sweep) drawProgress(r.sweep);
    } catch (e) { fill(flash, errorBox(e)); }
  };
  const drawHead = () => {
    const s = state.sweep;
    fill(head, h('div', { class: 'row' },
      h('div', { class: 'grow' }, h('h1', {}, s.name, ' ', badge(s.status)),
        h('div', { class: 'muted' }, `${s.id} · created ${time(s.createdMs)} (${age(s.createdMs)} ago)`, s.finishedMs ? ` · finished after ${duration((s.finishedMs - s.createdMs) / 1000)}` : '',
          s.tags.length ? ' · ' : '', s.tags.map((t) => h('span', { class: 'tag' }, t)))),
      h('a', { class: 'btn', href: `#/compare?a=${enc}` }, 'Compare…'),
      s.status === 'running' ? h('button', { class: 'danger', id: 'cancel', onclick: () => confirm(`Cancel sweep ${s.name}?`) && action('cancel') }, 'Cancel sweep') : null,
      s.status === 'failed' || s.status === 'cancelled' ? h('button', { id: 'retry', onclick: () => action('retry'), title: state.retry === false ? 'this coordinator cannot retry sweeps' : 'rerun failed, cancelled and skipped tasks' }, 'Retry') : null),
    s.error ? h('p', { class: 'error' }, s.error) : null, flash);
  };

  const drawProgress = (p) => {
    state = { ...state, ...p };
    drawHead();
    const s = p.sweep, c = s.counts;
    fill(progress, 
      h('div', { class: 'row' }, h('h2', { class: 'grow' }, 'Progress'),
        h('span', { class: 'muted', id: 'overall' }, `${pct(s.progress)} · ${c.total} tasks · ${c.running ?? 0} running · ${c.queued ?? 0} queued · ${c.failed ?? 0} failed`,
          s.status === 'running' ? ` · ETA ${p.etaS === null ? 'estimating' : duration(p.etaS)}` : '')),
      p.phases.map((ph) => h('div', { class: 'phase', 'data-phase': ph.phase },
        h('span', { class: 'name' }, ph.phase),
        bar(ph, ph.total, ph.fraction * ph.total - ph.succeeded - ph.failed - ph.skipped - ph.cancelled),
        h('span', { class: 'counts' }, `${ph.done}/${ph.total} done · ${ph.running} running · ${ph.queued + ph.pending} queued · ${ph.failed} failed`,
          ph.skipped ? ` · ${ph.skipped} skipped` : '', ph.cancelled ? ` · ${ph.cancelled} cancelled` : '',
          ph.running + ph.queued + ph.pending > 0 ? ` · ETA ${ph.etaS === null ? '…' : duration(ph.etaS)}` : ''))));
    // Results change when tasks finish: refetch at most every 3 s, and once when the sweep ends.
    const key = `${(c.succeeded ?? 0) + (c.failed ?? 0)}|${s.status}`;
    if (key !== resultsKey) { clearTimeout(resultsTimer); resultsTimer = setTimeout(loadResults, s.status === 'running' && resultsKey ? 3000 : 0); resultsKey = key; }
  };

  const loadResults = async () => {
    let r;
    try { r = await api(`/api/sweeps/${enc}/results`); } catch (e) { fill(arms, h('h2', {}, 'Arms'), errorBox(e)); return; }
    fill(arms, h('h2', {}, 'Arms (mean over seeds, bootstrap 95% interval; as `limolab results`)'), armTable(r.table));
    drawFigures(r.figures);
    fill(ledger, h('h2', {}, 'Ledger by phase'), table([
      { label: 'phase', get: (l) => l.phase }, { label: 'tasks', num: true, get: (l) => l.tasks }, { label: 'FLOPs', num: true, get: (l) => sci(l.flops) },
      { label: 'prompt tok', num: true, get: (l) => sci(l.tokensPrompt) }, { label: 'generated tok', num: true, get: (l) => sci(l.tokensGenerated) },
      { label: 'trained tok', num: true, get: (l) => sci(l.tokensTrained) }, { label: 'device-s', num: true, get: (l) => sci(l.deviceS) },
      { label: 'curated', num: true, get: (l) => l.curatedExamples }, { label: 'money', num: true, get: (l) => money(l.money) },
    ], r.ledger, { empty: 'No task has reported its cost yet.' }));
    drawStudy(r.study);
    loadTasks();
  };

  const drawFigures = async (list) => {
    fill(figs, h('h2', {}, 'Figures'));
    if (!list.length) { figs.append(h('p', { class: 'muted' }, 'Figures appear when an arm has succeeded.')); return; }
    const grid = h('div', { class: 'figs' });
    figs.append(grid);
    for (const f of list) {
      const target = h('div', { class: 'vega' });
      grid.append(h('div', { class: 'fig', id: `fig-${f.name}` }, h('h3', {}, f.title), target, f.notes.map((n) => h('p', { class: 'note' }, n))));
      if (!Object.keys(f.spec).length) continue;
      try { await embed(target, f.spec); } catch (e) { fill(target, errorBox(e)); }
    }
  };

  const drawStudy = (s) => {
    if (!s) { fill(study); return; }
    fill(study, h('div', { class: 'card' }, h('h2', {}, 'Study: verdicts and exchange rates'), renderStudy(s)));
  };

  const loadTasks = async () => {
    const r = await api(`/api/sweeps/${enc}/tasks${taskFilter ? `?status=${taskFilter}` : ''}`).catch((e) => ({ error: e }));
    if (r.error) { fill(tasks, errorBox(r.error)); return; }
    const sel = h('select', { 'aria-label': 'task status', onchange: () => { taskFilter = sel.value; loadTasks(); } },
      ['', 'failed', 'running', 'queued', 'pending', 'succeeded', 'skipped', 'cancelled'].map((s) => h('option', { value: s, selected: s === taskFilter }, s || 'all tasks')));
    fill(tasks, h('div', { class: 'row' }, h('h2', { class: 'grow' }, `Tasks (${r.total}${r.total > r.tasks.length ? `, first ${r.tasks.length}` : ''})`), sel),
      table([
        { label: 'task', get: (t) => h('a', { href: `#/task/${encodeURIComponent(t.id)}` }, t.name) }, { label: 'arm', get: (t) => t.arm },
        { label: 'seed', num: true, get: (t) => t.seed }, { label: 'phase', get: (t) => t.phase }, { label: 'status', get: (t) => badge(t.status) },
        { label: 'attempts', num: true, get: (t) => t.attempts }, { label: 'worker', get: (t) => t.workerId ?? '' },
        { label: 'took', num: true, get: (t) => (t.startedMs && t.finishedMs ? duration((t.finishedMs - t.startedMs) / 1000) : '') },
        { label: 'error', get: (t) => h('span', { class: 'muted' }, (t.error ?? '').slice(0, 140)) },
      ], r.tasks, { class: 'tasks', onclick: (t) => { location.hash = `#/task/${encodeURIComponent(t.id)}`; } }));
  };

  drawProgress(first);
  let tasksTimer;
  return {
    el: h("div", {}, head, progress, arms, figs, study, ledger, tasks,
      h('details', { class: 'card' }, h('summary', {}, 'Sweep spec'), h('pre', { class: 'light' }, first.spec))),
    events: `sweep=${enc}`,
    onEvent(type, data) {
      if (type !== 'progress' || !data) return;
      drawProgress(data);
      tasksTimer ??= setTimeout(() => { tasksTimer = undefined; loadTasks(); }, 1500);
    },
  };
}

/** The study's controls (verdicts) and exchange rates, formatted by the server. */
function renderStudy(s) {
  if (s.error) return errorBox(s.error);
  const block = (title, t, empty) => h('div', { style: 'margin-bottom:12px' }, h('h3', { style: 'font-size:13px;margin:6px 0' }, title),
    t.rows.length ? armTable(t) : h('p', { class: 'muted' }, empty));
  return h('div', {},
    block('Controls', s.controls, 'No control arms in this sweep.'),
    block('Exchange rates: RL FLOPs that match each SFT arm', s.exchange, 'No SFT arm to price against RL.'),
    s.warnings.length ? h('ul', { class: 'note' }, s.warnings.map((w) => h('li', {}, w))) : null);
}
