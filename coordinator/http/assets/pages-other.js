// A task (spec, attempts, metrics, training-loss curve, log tail, artifacts), the workers
// (state, pool, resources, current task, heartbeat age, drain), and Compare (two sweeps'
// arm tables side by side).
import { age, api, fill, armTable, badge, duration, embed, errorBox, h, post, sci, table, time } from './lib.js';

export async function taskPage(id) {
  const enc = encodeURIComponent(id);
  const el = h('div', {});
  let last = '';
  const load = async () => {
    const d = await api(`/api/tasks/${enc}`);
    const key = JSON.stringify([d.task.status, d.attempts.length, d.log.length, d.metrics.length, d.task.progress]);
    if (key === last) return;
    last = key;
    const t = d.task;
    const curve = h('div', { id: 'curve' });
    fill(el, 
      h('p', {}, h('a', { href: `#/sweep/${encodeURIComponent(t.sweepId)}` }, `← sweep ${t.sweepId}`)),
      h('h1', {}, t.name, ' ', badge(t.status)),
      h('div', { class: 'cols' },
        h('div', { class: 'card' }, h('h2', {}, 'Task'), h('dl', { class: 'kv' },
          [['id', t.id], ['arm', t.arm], ['seed', t.seed], ['kind', t.kind], ['phase', t.phase], ['pool', t.pool],
            ['attempts', `${t.dispatches} of at most ${t.maxRetries + 1}`], ['worker', t.workerId ?? '-'], ['progress', `${Math.round(t.progress * 100)}%`],
            ['created', time(t.createdMs)], ['started', time(t.startedMs)], ['finished', time(t.finishedMs)],
            ['took', t.startedMs && t.finishedMs ? duration((t.finishedMs - t.startedMs) / 1000) : '-'], ['reused from', t.reusedFrom ?? '-'],
            ['depends on', t.deps.length ? t.deps.map((x, i) => [i ? ', ' : '', h('a', { href: `#/task/${encodeURIComponent(x.task)}` }, `${x.task} (${x.role})`)]) : '-']]
            .map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])),
          t.error ? h('p', { class: 'error' }, t.error) : null),
        h('div', { class: 'card' }, h('h2', {}, 'Metrics'), table([
          { label: 'name', get: (m) => m.name }, { label: 'step', num: true, get: (m) => m.step }, { label: 'value', num: true, get: (m) => sci(m.value) },
        ], d.metrics.filter((m) => m.step === 0), { empty: 'No metrics yet.' }), curve)),
      h('div', { class: 'card' }, h('h2', {}, 'Attempts'), table([
        { label: 'attempt', get: (a) => `${a.dispatch}.${a.delivery}` }, { label: 'status', get: (a) => badge(a.status) }, { label: 'worker', get: (a) => a.workerId ?? '-' },
        { label: 'started', get: (a) => time(a.startedMs) }, { label: 'finished', get: (a) => time(a.finishedMs) },
        { label: 'took', num: true, get: (a) => (a.startedMs && a.finishedMs ? duration((a.finishedMs - a.startedMs) / 1000) : '-') },
        { label: 'error', get: (a) => a.error ?? '' },
      ], d.attempts, { empty: 'Not dispatched yet.' })),
      h('div', { class: 'card', id: 'log' }, h('h2', {}, 'Log tail'),
        d.log.length ? h('pre', {}, d.log.join('\n')) : h('p', { class: 'muted' }, 'No log lines: this task logged nothing while this coordinator ran, and no attempt failed.')),
      h('div', { class: 'card' }, h('h2', {}, 'Artifacts'), table([
        { label: 'role', get: (a) => a.role ?? '' }, { label: 'digest', get: (a) => h('code', {}, a.digest ?? '') }, { label: 'size', num: true, get: (a) => sci(Number(a.size ?? 0)) },
        { label: 'where', get: (a) => a.uri ?? '' },
      ], d.artifacts, { empty: 'No output artifacts.' }),
        d.details ? h('details', {}, h('summary', {}, 'details'), h('pre', { class: 'light' }, JSON.stringify(d.details, null, 2))) : null),
      h('details', { class: 'card' }, h('summary', {}, 'Spec (the planned task)'), h('pre', { class: 'light' }, JSON.stringify(d.spec, null, 2))),
      d.ledger ? h('details', { class: 'card' }, h('summary', {}, 'Ledger entry'), h('pre', { class: 'light' }, JSON.stringify(d.ledger, null, 2))) : null);
    if (d.curves.length) {
      curve.append(h('h2', { style: 'margin-top:12px' }, 'Curves'));
      const values = d.curves.flatMap((c) => c.points.map((p) => ({ metric: c.name, step: p.step, value: p.value })));
      const target = h('div', {});
      curve.append(target);
      embed(target, {
        width: 420, height: 200, data: { values },
        mark: { type: 'line', point: true, tooltip: true },
        encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'value', type: 'quantitative', scale: { zero: false } }, color: { field: 'metric', type: 'nominal' } },
      }).catch((e) => fill(target, errorBox(e)));
    }
  };
  await load();
  let timer;
  return { el, events: `task=${enc}`, onEvent(type) { if (type === 'task') { clearTimeout(timer); timer = setTimeout(() => load().catch(() => {}), 200); } } };
}

export async function workersPage() {
  const body = h('div', {}), flash = h('div', {});
  const draw = (workers) => fill(body, table([
    { label: 'worker', get: (w) => w.id }, { label: 'state', get: (w) => badge(w.state) }, { label: 'pool', get: (w) => w.pool },
    { label: 'host', get: (w) => w.host }, { label: 'slots', num: true, get: (w) => w.slots }, { label: 'CPUs', num: true, get: (w) => w.cpus },
    { label: 'memory', num: true, get: (w) => (w.memoryMb ? `${(w.memoryMb / 1024).toFixed(1)} GiB` : '-') },
    { label: 'GPUs', get: (w) => (w.gpus.length ? w.gpus.join(', ') : '-') },
    { label: 'current task', get: (w) => (w.running.length ? w.running.map((t, i) => [i ? ', ' : '', h('a', { href: `#/task/${encodeURIComponent(t.id)}` }, t.name)]) : h('span', { class: 'muted' }, 'none')) },
    { label: 'heartbeat', num: true, get: (w) => `${duration(w.heartbeatAgeMs / 1000)} ago` },
    { label: 'done / failed', num: true, get: (w) => `${w.completed} / ${w.failed}` },
    { label: '', get: (w) => (w.state === 'idle' || w.state === 'busy' ? h('button', { class: 'drain', 'data-worker': w.id, onclick: () => drain(w.id) }, 'Drain') : '') },
  ], workers, { class: 'workers', empty: 'No workers have reported. Start one with `limolab worker --nats nats://HOST:4222`.' }));
  const drain = async (id) => {
    if (!confirm(`Drain ${id}? It finishes its running tasks and takes no more.`)) return;
    try { const r = await post(`/api/workers/${encodeURIComponent(id)}/drain`); fill(flash, h('p', { class: 'flash' }, `Worker ${id} is draining.`)); draw(r.workers); }
    catch (e) { fill(flash, errorBox(e)); }
  };
  draw((await api('/api/workers')).workers);
  return { el: h('div', {}, h('h1', {}, 'Workers'), flash, h('div', { class: 'card' }, body)), onEvent(type, data) { if (type === 'workers') draw(data); } };
}

export async function comparePage(params) {
  const { sweeps } = await api('/api/sweeps?limit=200');
  const pick = (name) => h('select', { 'aria-label': `sweep ${name}`, name, onchange: () => go() },
    h('option', { value: '' }, '(choose a sweep)'), sweeps.map((s) => h('option', { value: s.id, selected: s.id === params.get(name) }, `${s.name} · ${s.id} · ${s.status}`)));
  const a = pick('a'), b = pick('b');
  const go = () => { location.hash = `#/compare?a=${encodeURIComponent(a.value)}&b=${encodeURIComponent(b.value)}`; };
  const out = h('div', {});
  if (params.get('a') && params.get('b')) {
    try {
      const r = await api(`/api/compare?a=${encodeURIComponent(params.get('a'))}&b=${encodeURIComponent(params.get('b'))}`);
      out.append(h('div', { class: 'cols' }, [r.a, r.b].map((side, i) => h('div', { class: 'card', id: `side-${i ? 'b' : 'a'}` },
        h('h2', {}, h('a', { href: `#/sweep/${encodeURIComponent(side.sweep.id)}` }, side.sweep.name), ' ', badge(side.sweep.status)),
        h('p', { class: 'muted' }, `${side.sweep.id} · ${age(side.sweep.createdMs)} ago`), armTable(side.table)))));
    } catch (e) { out.append(errorBox(e)); }
  } else out.append(h('p', { class: 'muted' }, 'Choose two sweeps to see their arm tables side by side.'));
  return { el: h('div', {}, h('h1', {}, 'Compare sweeps'), h('div', { class: 'row card' }, 'A', a, 'B', b), out) };
}
