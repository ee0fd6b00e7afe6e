// The encore console (docs/CONSOLE.md): one page per hash (#data, #runs,
// #models, #live, #experiment, #users), each drawn from the JSON endpoints
// under /ui/api/. No framework; charts by Chart.js (embedded in the binary).
'use strict';

const $ = (sel, root = document) => root.querySelector(sel);
const page = () => $('#page');
const charts = [];   // the charts on the current page (browser tests read them)
window.encoreCharts = charts;
let timer = null;    // the live page's refresh
let generation = 0;  // bumps on every navigation; stale answers are dropped

function esc(v) {
  return String(v).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
}
function fmt(v, digits = 4) {
  if (v === null || v === undefined || Number.isNaN(v)) return '-';
  if (typeof v !== 'number') return esc(v);
  if (Number.isInteger(v)) return v.toLocaleString('en-US');
  return Number(v.toPrecision(digits)).toString();
}
function pct(v) { return v === null || v === undefined ? '-' : (100 * v).toFixed(2) + '%'; }
function key() { return sessionStorage.getItem('encore-key') || ''; }

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// GET /ui/api/PATH with the key when one was entered.
async function api(path) {
  const headers = {};
  if (key()) headers.Authorization = 'Bearer ' + key();
  const r = await fetch('/ui/api/' + path, {headers});
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new ApiError(r.status, (body && body.error) || ('HTTP ' + r.status));
  return body;
}
async function get(url) {
  const r = await fetch(url);
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  return {status: r.status, body};
}

function card(label, value) {
  return `<div class="card"><div class="label">${esc(label)}</div><div class="value">${value}</div></div>`;
}
function notice(text, error = false) {
  return `<div class="notice${error ? ' error' : ''}">${esc(text)}</div>`;
}
function chartBox(id, title) {
  return `<div class="chart"><h3>${esc(title)}</h3><div class="canvas"><canvas id="${id}"></canvas></div></div>`;
}

// Draws a chart into <canvas id>; without the library, says why not.
function draw(id, config) {
  const canvas = document.getElementById(id);
  if (!canvas) return;
  if (window.ENCORE_CHARTS_MISSING || typeof window.Chart === 'undefined') {
    canvas.parentElement.outerHTML =
        '<div class="charts-missing">charts unavailable: run scripts/install-deps.sh, then rebuild</div>';
    return;
  }
  config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false,
                                  plugins: {legend: {display: (config.data.datasets || []).length > 1}}},
                                 config.options || {});
  charts.push(new window.Chart(canvas, config));
}
function bar(id, labels, datasets, options = {}) {
  draw(id, {type: 'bar', data: {labels, datasets}, options});
}

function showError(e) {
  if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
    page().innerHTML = notice(e.message, true) +
        '<p class="muted">Enter the admin key above (the file given to encore serve --api-key-file).</p>';
  } else {
    page().innerHTML = notice(e.message || String(e), true);
  }
}

// ---------------------------------------------------------------- pages

async function dataPage(gen) {
  const r = await api('profile');
  if (gen !== generation) return;
  const p = r.profile;
  const dist = d => `min ${fmt(d.min)} · p50 ${fmt(d.p50)} · p90 ${fmt(d.p90)} · max ${fmt(d.max)}`;
  page().innerHTML = `<h1>Data profile <span class="muted">(prepared data of run ${esc(r.run)})</span></h1>
    <div class="cards">
      ${card('rows read', fmt(p.rows_read))}${card('rows accepted', fmt(p.rows_accepted))}
      ${card('rows rejected', fmt(p.rows_rejected))}${card('users', fmt(p.users))}
      ${card('items', fmt(p.items))}${card('nonzeros', fmt(p.nonzeros))}
      ${card('density', fmt(p.density_percent, 3) + '%')}${card('sparsity', fmt(p.sparsity_percent, 5) + '%')}
      ${card('time range', p.time_min ? esc(p.time_min.slice(0, 10) + ' → ' + p.time_max.slice(0, 10)) : '-')}
    </div>
    <p class="muted">per user: ${dist(p.per_user)}<br>per item: ${dist(p.per_item)}</p>
    <div class="grid2">
      ${chartBox('c-users', 'Users by number of items')}
      ${chartBox('c-items', 'Items by number of users')}
      ${chartBox('c-values', 'Values')}
      ${chartBox('c-time', 'Nonzeros over time (latest interaction)')}
      ${Object.keys(p.events || {}).length ? chartBox('c-events', 'Rows per event type') : ''}
    </div>`;
  bar('c-users', p.per_user_histogram.map(b => b.label), [{label: 'users', data: p.per_user_histogram.map(b => b.count)}]);
  bar('c-items', p.per_item_histogram.map(b => b.label), [{label: 'items', data: p.per_item_histogram.map(b => b.count)}]);
  bar('c-values', p.values.map(b => b.label), [{label: 'nonzeros', data: p.values.map(b => b.count)}]);
  if (p.over_time.length) {
    draw('c-time', {type: 'line', data: {labels: p.over_time.map(b => new Date(b.start * 1000).toISOString().slice(0, 10)),
                                         datasets: [{label: 'nonzeros', data: p.over_time.map(b => b.count), fill: true}]}});
  } else {
    const c = document.getElementById('c-time');
    if (c) c.parentElement.outerHTML = '<div class="charts-missing">the data has no times</div>';
  }
  const ev = Object.entries(p.events || {});
  if (ev.length) bar('c-events', ev.map(e => e[0]), [{label: 'rows', data: ev.map(e => e[1])}]);
}

// The lineage of every output, as a graph: inputs on the left, stages
// in their order, outputs on the right.
function lineageSvg(manifest) {
  const nodes = new Map();  // label -> {col, row}
  const edges = new Set();
  const chains = (manifest.outputs || []).map(o => {
    const stages = ((o.lineage || {}).stages || []).slice().reverse();  // sources first
    const inputs = ((o.lineage || {}).inputs || []).map(p => 'file ' + p.split('/').slice(-2).join('/'));
    return {inputs, stages};
  });
  let depth = 0;
  for (const c of chains) depth = Math.max(depth, c.stages.length);
  const place = (label, col) => {
    if (!nodes.has(label)) nodes.set(label, {col, row: 0});
    else nodes.get(label).col = Math.max(nodes.get(label).col, col);
  };
  for (const c of chains) {
    c.inputs.forEach(i => place(i, 0));
    c.stages.forEach((s, k) => place(s, k + 1 + (k === c.stages.length - 1 ? depth - c.stages.length : 0)));
    for (const i of c.inputs) if (c.stages.length) edges.add(i + '\u0000' + c.stages[0]);
    for (let k = 1; k < c.stages.length; ++k) edges.add(c.stages[k - 1] + '\u0000' + c.stages[k]);
  }
  const rows = {};
  for (const [, n] of nodes) n.row = (rows[n.col] = (rows[n.col] || 0) + 1) - 1;
  const W = 170, H = 54, bw = 150, bh = 30;
  const cols = Math.max(1, ...[...nodes.values()].map(n => n.col + 1));
  const maxRows = Math.max(1, ...Object.values(rows));
  let svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * W + 10}" height="${maxRows * H + 10}" role="img" aria-label="lineage graph">`;
  svg += '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#8a93a6"/></marker></defs>';
  const pos = l => { const n = nodes.get(l); return {x: 5 + n.col * W, y: 5 + n.row * H}; };
  for (const e of edges) {
    const [a, b] = e.split('\u0000');
    const p = pos(a), q = pos(b);
    svg += `<line class="edge" x1="${p.x + bw}" y1="${p.y + bh / 2}" x2="${q.x}" y2="${q.y + bh / 2}" stroke="#8a93a6" marker-end="url(#arrow)"/>`;
  }
  for (const [label] of nodes) {
    const p = pos(label);
    const kind = label.startsWith('file ') ? '#eef2f8' : label.startsWith('output ') ? '#e8f5e9' : '#fff';
    const text = label.length > 22 ? label.slice(0, 21) + '…' : label;
    svg += `<g class="node"><title>${esc(label)}</title><rect x="${p.x}" y="${p.y}" width="${bw}" height="${bh}" rx="5" fill="${kind}" stroke="#9aa3b5"/>` +
           `<text x="${p.x + 8}" y="${p.y + 19}" font-size="12">${esc(text)}</text></g>`;
  }
  return svg + '</svg>';
}

async function runsPage(gen) {
  const r = await api('runs');
  if (gen !== generation) return;
  const runs = r.runs;
  if (!runs.length) { page().innerHTML = notice('no pipeline runs in ' + r.workdir + '/runs yet'); return; }
  const last = runs[runs.length - 1].manifest;
  const rowsOf = m => (m.counts && m.counts.nnz) || 0;
  page().innerHTML = `<h1>Pipeline runs <span class="muted">(${esc(r.workdir)})</span></h1>
    <div class="table"><table><thead><tr><th>run</th><th>pipeline</th><th>status</th><th class="num">seconds</th>
      <th class="num">users</th><th class="num">items</th><th class="num">nonzeros</th></tr></thead><tbody>
      ${runs.slice().reverse().map(x => { const m = x.manifest; const c = m.counts || {};
        return `<tr><td>${esc(x.id)}</td><td>${esc((m.pipeline && m.pipeline.name) || m.pipeline || '')}</td><td class="status-${esc(m.status)}">${esc(m.status)}</td>
          <td class="num">${fmt(m.seconds, 3)}</td><td class="num">${fmt(c.users)}</td><td class="num">${fmt(c.items)}</td><td class="num">${fmt(c.nnz)}</td></tr>`; }).join('')}
    </tbody></table></div>
    <div class="grid2">
      ${chartBox('c-stages', 'Stage timings of run ' + runs[runs.length - 1].id + ' (seconds)')}
      ${chartBox('c-rows', 'Rows through run ' + runs[runs.length - 1].id)}
      ${chartBox('c-metrics', 'Test metrics over runs')}
      ${chartBox('c-duration', 'Run time over runs (seconds)')}
    </div>
    <h2>Lineage of run ${esc(runs[runs.length - 1].id)}</h2>
    <div class="lineage">${lineageSvg(last)}</div>
    <h2>Outputs</h2>
    <div class="table"><table><thead><tr><th>output</th><th>kind</th><th>location</th><th class="num">rows</th><th class="num">bytes</th></tr></thead><tbody>
      ${(last.outputs || []).map(o => `<tr><td>${esc(o.name)}</td><td>${esc(o.kind)}</td><td>${esc(o.location)}</td><td class="num">${fmt(o.rows)}</td><td class="num">${fmt(o.bytes)}</td></tr>`).join('')}
    </tbody></table></div>`;
  bar('c-stages', (last.stages || []).map(s => s.stage), [{label: 'seconds', data: (last.stages || []).map(s => s.seconds)}],
      {indexAxis: 'y'});
  const steps = ((last.counts || {}).prepare || []);
  const rowLabels = [], rowValues = [];
  for (const [name, s] of Object.entries((last.counts || {}).sources || {})) { rowLabels.push('source ' + name); rowValues.push(s.rows_accepted); }
  for (const s of steps) { rowLabels.push(s.step); rowValues.push(s.rows !== undefined ? s.rows : s.nnz); }
  for (const o of last.outputs || []) { rowLabels.push('output ' + o.name); rowValues.push(o.rows); }
  bar('c-rows', rowLabels, [{label: 'rows', data: rowValues}]);
  const series = {};
  runs.forEach((x, k) => {
    for (const [model, m] of Object.entries(x.manifest.metrics || {})) {
      for (const [metric, v] of Object.entries(m.test || {})) {
        const name = model + ' ' + metric;
        (series[name] = series[name] || new Array(runs.length).fill(null))[k] = v;
      }
    }
  });
  draw('c-metrics', {type: 'line', data: {labels: runs.map(x => x.id),
    datasets: Object.entries(series).map(([label, data]) => ({label, data, spanGaps: true}))}});
  draw('c-duration', {type: 'line', data: {labels: runs.map(x => x.id), datasets: [{label: 'seconds', data: runs.map(x => x.manifest.seconds)}]}});
  void rowsOf;
}

// The [retail.segments] record of a run's manifest: each segment's model
// against the global model on the same held-out members.
function segmentsSection(run) {
  const s = run.manifest.segments;
  const list = (s && s.list) || [];
  const evaluated = list.some(g => g.segment_model);
  const metrics = evaluated ? [...new Set(list.flatMap(g => Object.keys(g.segment_model || {})))] : [];
  let html = `<h2>Segments <span class="muted">(run ${esc(run.id)}, by ${esc((s.by || []).join(' x '))})</span></h2>`;
  if (s.protocol) html += `<p class="muted">${esc(s.protocol)}; ${fmt(s.users_evaluated)} members evaluated</p>`;
  html += `<div class="table"><table id="segments"><thead><tr><th>segment</th><th>description</th><th class="num">members</th><th>scored by</th>
    ${metrics.map(n => `<th class="num">${esc(n)} segment</th><th class="num">${esc(n)} global</th>`).join('')}</tr></thead><tbody>
    ${list.map(g => `<tr data-segment="${esc(g.name)}"><td>${esc(g.name)}</td><td>${esc(g.description || '')}</td><td class="num">${fmt(g.members)}</td>
      <td>${esc(g.scored_by)}${g.reason ? ' <span class="muted">(' + esc(g.reason) + ')</span>' : ''}</td>
      ${metrics.map(n => `<td class="num">${fmt((g.segment_model || {})[n])}</td><td class="num">${fmt((g.global_model || {})[n])}</td>`).join('')}</tr>`).join('')}
    </tbody></table></div>`;
  if (evaluated) html += `<div class="grid2">${chartBox('c-segments', 'Per segment: ' + metrics[0] + ', segment model against the global one')}</div>`;
  return {html, draw: () => {
    if (!evaluated) return;
    bar('c-segments', list.map(g => g.name), [
      {label: 'segment model', data: list.map(g => (g.segment_model || {})[metrics[0]] ?? null)},
      {label: 'global model', data: list.map(g => (g.global_model || {})[metrics[0]] ?? null)}]);
  }};
}

async function modelsPage(gen) {
  const r = await api('runs');
  if (gen !== generation) return;
  const segmented = r.runs.filter(x => x.manifest.segments && (x.manifest.segments.list || []).length);
  const segments = segmented.length ? segmentsSection(segmented[segmented.length - 1]) : null;
  const runs = r.runs.filter(x => Object.keys(x.manifest.metrics || {}).length);
  if (!runs.length) {
    page().innerHTML = segments ? '<h1>Models</h1>' + segments.html
                                : notice('no run evaluated a model yet: add [models.NAME.evaluate] to the pipeline');
    if (segments) segments.draw();
    return;
  }
  const run = runs[runs.length - 1];
  const metrics = run.manifest.metrics;
  const models = Object.keys(metrics);
  const names = [...new Set(models.flatMap(m => Object.keys(metrics[m].test || {})))];
  let html = `<h1>Models <span class="muted">(run ${esc(run.id)})</span></h1>
    <div class="table"><table><thead><tr><th>model</th><th>kind</th>${names.map(n => `<th class="num">${esc(n)}</th>`).join('')}<th class="num">test pairs</th><th>protocol</th></tr></thead><tbody>
    ${models.map(m => `<tr><td>${esc(m)}</td><td>${esc(((run.manifest.models || {})[m] || {}).kind || '')}</td>
       ${names.map(n => `<td class="num">${fmt((metrics[m].test || {})[n])}</td>`).join('')}
       <td class="num">${fmt(metrics[m].test_pairs)}</td><td>${esc(metrics[m].protocol || '')}</td></tr>`).join('')}
    </tbody></table></div>
    <div class="grid2">${chartBox('c-compare', 'Held-out test metrics, side by side')}</div>`;
  for (const m of models) {
    const g = metrics[m].grid;
    if (g && g.length) {
      const gm = Object.keys(g[0].mean || {});
      html += `<h2>Grid of ${esc(m)}</h2><div class="table"><table><thead><tr><th>setting</th>${gm.map(n => `<th class="num">${esc(n)}</th>`).join('')}</tr></thead><tbody>
        ${g.map((p, k) => `<tr class="${k === metrics[m].best ? 'best' : ''}"><td>${esc(Object.entries(p.params).map(e => e.join('=')).join(', '))}${k === metrics[m].best ? ' (chosen)' : ''}</td>
          ${gm.map(n => `<td class="num">${fmt(p.mean[n])}</td>`).join('')}</tr>`).join('')}</tbody></table></div>
        <div class="grid2">${chartBox('c-grid-' + m, 'Grid of ' + m + ' (mean over folds)')}</div>`;
    }
  }
  if (segments) html += segments.html;
  page().innerHTML = html;
  if (segments) segments.draw();
  bar('c-compare', names, models.map(m => ({label: m, data: names.map(n => (metrics[m].test || {})[n] ?? null)})));
  for (const m of models) {
    const g = metrics[m].grid;
    if (!g || !g.length) continue;
    const gm = Object.keys(g[0].mean || {});
    bar('c-grid-' + m, g.map(p => Object.entries(p.params).map(e => e.join('=')).join(', ')),
        gm.map(n => ({label: n, data: g.map(p => p.mean[n])})));
  }
}

// Latency percentile from histogram bucket counts (not cumulative; +Inf
// last), interpolating within the bucket; null without requests.
function percentile(buckets, bounds, q) {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (!total) return null;
  const rank = q * total;
  let seen = 0;
  for (let b = 0; b < buckets.length; ++b) {
    if (seen + buckets[b] >= rank && buckets[b] > 0) {
      const lo = b === 0 ? 0 : bounds[b - 1];
      const hi = b < bounds.length ? bounds[b] : bounds[bounds.length - 1];
      return lo + (hi - lo) * (rank - seen) / buckets[b];
    }
    seen += buckets[b];
  }
  return bounds[bounds.length - 1];
}

async function livePage(gen) {
  const samples = [];  // {t, requests, errors, buckets}
  const history = {labels: [], rps: [], p50: [], p95: [], p99: [], errors: []};
  page().innerHTML = `<h1>Live service</h1><div id="live-cards" class="cards"></div>
    <div class="grid2">${chartBox('c-rps', 'Requests per second')}${chartBox('c-latency', 'Latency percentiles (ms, per refresh)')}</div>
    <h2>Routes</h2><div id="live-routes" class="table"></div>
    <p class="muted">Refreshed every 2 s from the server's /metrics counters (the console's own requests are counted under /ui).</p>`;
  draw('c-rps', {type: 'line', data: {labels: history.labels, datasets: [
    {label: 'requests/s', data: history.rps}, {label: 'errors/s (5xx)', data: history.errors}]}});
  draw('c-latency', {type: 'line', data: {labels: history.labels, datasets: [
    {label: 'p50', data: history.p50}, {label: 'p95', data: history.p95}, {label: 'p99', data: history.p99}]}});
  const tick = async () => {
    let r;
    try { r = await api('live'); } catch (e) { if (gen === generation) showError(e); return; }
    if (gen !== generation) return;
    const m = r.metrics;
    const sum = (f) => m.routes.reduce((a, x) => a + f(x), 0);
    const buckets = m.bucket_bounds.map(() => 0).concat([0]);
    for (const x of m.routes) x.buckets.forEach((n, b) => { buckets[b] += n; });
    const s = {t: r.now / 1000, requests: sum(x => x.requests), errors: sum(x => x.errors), buckets};
    const prev = samples[samples.length - 1];
    samples.push(s);
    const total = percentile(buckets, m.bucket_bounds, 0.99);
    if (prev) {
      const dt = Math.max(0.001, s.t - prev.t);
      const delta = s.buckets.map((n, b) => n - prev.buckets[b]);
      history.labels.push(new Date(r.now).toISOString().slice(11, 19));
      history.rps.push((s.requests - prev.requests) / dt);
      history.errors.push((s.errors - prev.errors) / dt);
      for (const [k, q] of [['p50', 0.5], ['p95', 0.95], ['p99', 0.99]]) {
        const v = percentile(delta, m.bucket_bounds, q);
        history[k].push(v === null ? null : v * 1000);
      }
      for (const k of Object.keys(history)) if (history[k].length > 60) history[k].shift();
      for (const c of charts) c.update();
    }
    const snap = r.snapshot;
    $('#live-cards').innerHTML =
        card('snapshot', snap ? fmt(snap.version) : 'none') +
        card('snapshot created', snap ? esc(snap.created) : '-') +
        card('requests', fmt(s.requests)) + card('errors (5xx)', fmt(s.errors)) +
        card('requests/s', history.rps.length ? fmt(history.rps[history.rps.length - 1], 3) : '…') +
        card('p99 since start', total === null ? '-' : fmt(total * 1000, 3) + ' ms') +
        card('connections', fmt(m.connections_active)) +
        card('uptime', fmt(Math.round(m.uptime_seconds)) + ' s') +
        card('stream lag', r.stream && r.stream.lag !== null ? fmt(r.stream.lag) : 'no consumer') +
        card('experiment', r.experiment ? esc(r.experiment) : 'none');
    $('#live-routes').innerHTML = `<table><thead><tr><th>route</th><th class="num">requests</th><th class="num">4xx</th><th class="num">5xx</th>
      <th class="num">p50 ms</th><th class="num">p99 ms</th></tr></thead><tbody>${m.routes.map(x => {
        const p50 = percentile(x.buckets, m.bucket_bounds, 0.5), p99 = percentile(x.buckets, m.bucket_bounds, 0.99);
        return `<tr><td>${esc(x.route)}</td><td class="num">${fmt(x.requests)}</td><td class="num">${fmt(x.client_errors)}</td>
          <td class="num">${fmt(x.errors)}</td><td class="num">${p50 === null ? '-' : fmt(p50 * 1000, 3)}</td>
          <td class="num">${p99 === null ? '-' : fmt(p99 * 1000, 3)}</td></tr>`; }).join('')}</tbody></table>`;
    document.body.dataset.liveSamples = String(samples.length);
  };
  await tick();
  timer = setInterval(tick, 2000);
}

async function experimentPage(gen) {
  const r = await api('experiment');
  if (gen !== generation) return;
  const e = r.report;
  // Fixed-horizon intervals and, beside them, the always-valid ones (valid
  // however often the report is looked at; docs/EXPERIMENTS.md).
  const vs = e.variants.map(v => {
    const av = v.always_valid || {}, avl = av.lift || {};
    return Object.assign({}, v, {ctr_lift: (v.lift || {}).ctr,
      conversion_lift: (v.lift || {}).conversion, revenue_lift: (v.lift || {}).revenue_per_user,
      av_ctr: av.ctr, av_conversion: av.conversion, av_revenue_per_user: av.revenue_per_user,
      av_ctr_lift: avl.ctr, av_conversion_lift: avl.conversion, av_revenue_lift: avl.revenue_per_user});
  });
  const srm = e.srm || {}, ss = e.sample_size || {}, counts = e.events || {};
  const av = (x, f) => x ? `<br><span class="muted always-valid">always-valid [${f(x.low)}, ${f(x.high)}]</span>` : '';
  const iv = (x, a) => x ? `${fmt(x.estimate)} [${fmt(x.low)}, ${fmt(x.high)}]${av(a, fmt)}` : '-';
  const lift = (x, a) => x ? `${pct(x.estimate)} [${pct(x.low)}, ${pct(x.high)}]${av(a, pct)}` : '-';
  const rejected = Object.entries(counts.rejected || {});
  page().innerHTML = `<h1>Experiment ${esc(e.experiment)}</h1>
    ${srm.mismatch ? `<div class="notice srm">SAMPLE RATIO MISMATCH (p = ${fmt(srm.p)}): assignment or logging is broken; do not trust the lifts</div>` : ''}
    <div class="cards">${card('events read', fmt(counts.read))}${card('accepted', fmt(counts.accepted))}
      ${card('SRM p-value', fmt(srm.p))}${card('confidence', pct(e.confidence))}
      ${card('users per variant for ' + pct(ss.mde) + ' (conversion)', fmt(ss.conversion))}
      ${card('users per variant for ' + pct(ss.mde) + ' (revenue/user)', fmt(ss.revenue_per_user))}</div>
    <div class="table"><table><thead><tr><th>variant</th><th class="num">share</th><th class="num">users</th><th class="num">exposures</th>
      <th>CTR</th><th>conversion</th><th>revenue/user</th><th>CTR lift</th><th>conversion lift</th><th>revenue lift</th></tr></thead><tbody>
      ${vs.map(v => `<tr><td>${esc(v.name)}${v.control ? ' (control)' : ''}</td><td class="num">${fmt(v.share)}%</td>
        <td class="num">${fmt(v.users)}</td><td class="num">${fmt(v.exposures)}</td><td>${iv(v.ctr, v.av_ctr)}</td><td>${iv(v.conversion, v.av_conversion)}</td>
        <td>${iv(v.revenue_per_user, v.av_revenue_per_user)}</td><td>${lift(v.ctr_lift, v.av_ctr_lift)}</td><td>${lift(v.conversion_lift, v.av_conversion_lift)}</td><td>${lift(v.revenue_lift, v.av_revenue_lift)}</td></tr>`).join('')}
    </tbody></table></div>
    <div class="grid2">${chartBox('c-ctr', 'Click-through rate: fixed-horizon and always-valid intervals')}${chartBox('c-conv', 'Conversion: fixed-horizon and always-valid intervals')}
      ${chartBox('c-rev', 'Revenue per user: fixed-horizon and always-valid intervals')}${chartBox('c-lift', 'Lift against control (%): fixed-horizon and always-valid intervals')}</div>
    <p class="muted">${esc(e.method || '')}</p>
    ${rejected.length ? `<h2>Rejected events</h2><div class="table"><table><tbody>${rejected.map(([k, n]) => `<tr><td>${esc(k)}</td><td class="num">${fmt(n)}</td></tr>`).join('')}</tbody></table></div>` : ''}`;
  // An interval as a floating bar [low, high] with the estimate as a point.
  const range = (x, scale = 1) => x ? [x.low * scale, x.high * scale] : null;
  const intervalChart = (id, get, getAlways) => draw(id, {
    type: 'bar',
    data: {labels: vs.map(v => v.name), datasets: [
      {type: 'bar', label: 'fixed-horizon interval', data: vs.map(v => range(get(v))), barPercentage: 0.6},
      {type: 'bar', label: 'always-valid interval', data: vs.map(v => range(getAlways(v))), barPercentage: 0.6},
      {type: 'scatter', label: 'estimate', data: vs.map(v => { const x = get(v); return x ? {x: v.name, y: x.estimate} : null; }), pointRadius: 5}]},
    options: {plugins: {legend: {display: true}}}});
  intervalChart('c-ctr', v => v.ctr, v => v.av_ctr);
  intervalChart('c-conv', v => v.conversion, v => v.av_conversion);
  intervalChart('c-rev', v => v.revenue_per_user, v => v.av_revenue_per_user);
  const treat = vs.filter(v => !v.control);
  draw('c-lift', {type: 'bar', data: {labels: treat.flatMap(v => ['CTR', 'conversion', 'revenue'].map(k => v.name + ' ' + k)),
    datasets: [{label: 'fixed-horizon interval (%)', data: treat.flatMap(v => [v.ctr_lift, v.conversion_lift, v.revenue_lift].map(x => range(x, 100)))},
               {label: 'always-valid interval (%)', data: treat.flatMap(v => [v.av_ctr_lift, v.av_conversion_lift, v.av_revenue_lift].map(x => range(x, 100)))},
               {type: 'scatter', label: 'estimate (%)', data: treat.flatMap(v => [['CTR', v.ctr_lift], ['conversion', v.conversion_lift], ['revenue', v.revenue_lift]]
                  .map(([k, x]) => x ? {x: v.name + ' ' + k, y: 100 * x.estimate} : null)), pointRadius: 5}]}});
}

async function usersPage(gen, user) {
  page().innerHTML = `<h1>User explorer</h1>
    <form id="user-form" class="inline"><input id="user-id" placeholder="user id" value="${esc(user || '')}" aria-label="user id"><button type="submit">Show</button></form>
    <div id="user-out"></div>`;
  $('#user-form').addEventListener('submit', ev => {
    ev.preventDefault();
    location.hash = '#users/' + encodeURIComponent($('#user-id').value.trim());
  });
  if (!user) { $('#user-out').innerHTML = '<p class="muted">Enter a user id.</p>'; return; }
  const h = await api('users/' + encodeURIComponent(user));
  if (gen !== generation) return;
  const recs = await get('/v1/users/' + encodeURIComponent(user) + '/recommendations');
  if (gen !== generation) return;
  const names = {};
  for (const x of h.history) if (x.name) names[x.item] = x.name;
  let html = `<div class="cards">${card('user', esc(h.user))}${card('known to the model', h.known ? 'yes' : 'no')}
      ${card('history items', fmt(h.history_total))}${card('snapshot', fmt(h.snapshot))}
      ${recs.body && recs.body.variant ? card('variant', esc(recs.body.variant)) : ''}</div>`;
  html += `<h2>Served payload</h2>`;
  let items = [];
  if (recs.status === 200 && recs.body) {
    items = recs.body.items || [];
    html += `<div class="table"><table id="served"><thead><tr><th>#</th><th>item</th><th class="num">score</th><th>why</th></tr></thead><tbody>
      ${items.map((x, k) => `<tr data-item="${esc(x.item)}"><td>${k + 1}</td><td>${esc(x.item)}${names[x.item] ? ' <span class="muted">' + esc(names[x.item]) + '</span>' : ''}</td>
        <td class="num">${fmt(x.score)}</td><td class="why muted">…</td></tr>`).join('')}</tbody></table></div>
      <details><summary>JSON as served</summary><pre>${esc(JSON.stringify(recs.body, null, 1))}</pre></details>`;
  } else {
    html += notice((recs.body && recs.body.error) || 'no payload (HTTP ' + recs.status + ')');
  }
  html += `<h2>History <span class="muted">(training data of the served model${h.history_total > h.history.length ? ', top ' + h.history.length + ' by value' : ''})</span></h2>
    <div class="table"><table id="history"><thead><tr><th>item</th><th>name</th><th class="num">value</th></tr></thead><tbody>
    ${h.history.map(x => `<tr><td>${esc(x.item)}</td><td>${esc(x.name || '')}</td><td class="num">${fmt(x.value)}</td></tr>`).join('')}</tbody></table></div>`;
  $('#user-out').innerHTML = html;
  // The explanation of each served item, where the model gives one.
  if (!h.known || !h.model) {
    for (const td of document.querySelectorAll('#served .why')) td.textContent = 'no explanation (user not in the model)';
    return;
  }
  for (const row of document.querySelectorAll('#served tr[data-item]')) {
    const e = await get('/v1/users/' + encodeURIComponent(user) + '/explain?item=' + encodeURIComponent(row.dataset.item));
    if (gen !== generation) return;
    const td = row.querySelector('.why');
    if (e.status !== 200 || !e.body) { td.textContent = (e.body && e.body.error) || 'no explanation'; continue; }
    const because = e.body.because || e.body.contributions || e.body.items || [];
    td.textContent = Array.isArray(because) && because.length
        ? 'because of ' + because.slice(0, 3).map(b => b.item + (names[b.item] ? ' (' + names[b.item] + ')' : '')).join(', ')
        : 'explained: ' + JSON.stringify(e.body).slice(0, 120);
    td.classList.remove('muted');
  }
}

const pages = {data: dataPage, runs: runsPage, models: modelsPage, live: livePage, experiment: experimentPage, users: usersPage};

async function route() {
  generation += 1;
  const gen = generation;
  if (timer) { clearInterval(timer); timer = null; }
  while (charts.length) charts.pop().destroy();
  const [name, ...rest] = (location.hash.slice(1) || 'data').split('/');
  const fn = pages[name] || dataPage;
  for (const a of document.querySelectorAll('#nav a')) a.classList.toggle('active', a.getAttribute('href') === '#' + (pages[name] ? name : 'data'));
  document.body.dataset.page = pages[name] ? name : 'data';
  document.body.dataset.ready = '';
  page().innerHTML = '<p class="muted">Loading…</p>';
  try {
    await fn(gen, rest.length ? decodeURIComponent(rest.join('/')) : '');
  } catch (e) {
    if (gen === generation) showError(e);
  }
  if (gen === generation) document.body.dataset.ready = name || 'data';
}

async function start() {
  $('#key-form').addEventListener('submit', ev => {
    ev.preventDefault();
    sessionStorage.setItem('encore-key', $('#key').value.trim());
    $('#key').value = '';
    route();
  });
  try {
    const c = await api('config');
    const banner = $('#banner');
    if (!c.charts || window.ENCORE_CHARTS_MISSING) {
      banner.hidden = false;
      banner.textContent = 'charts unavailable: run scripts/install-deps.sh (it installs the charting library with npm), then rebuild';
    }
    if (!c.admin_enabled && !c.public_read_only) {
      banner.hidden = false;
      banner.textContent = 'This server has no admin key, and its read-only pages are not public: restart encore serve with --api-key-file FILE (or --console-public).';
    }
    if (!c.admin_enabled) $('#key-form').hidden = true;
    document.title = 'encore ' + c.version + ' console';
  } catch (e) { /* the pages say what is wrong */ }
  window.addEventListener('hashchange', route);
  route();
}

start();
