// clowdr report: the page behind `clowdr export html` and `clowdr share`.
//
// Data comes from one of two sources with the same shape (docs/report.md):
//   static  two gzip+base64 blocks embedded in the page (#clowdr-core, #clowdr-detail), decoded here;
//   live    the endpoints of `clowdr share` (api/core, api/detail, api/task/ID), with each change pushed by
//           api/events (Server-Sent Events; api/version polled twice a second where EventSource is missing).
// The page is plain DOM and canvas, with no library: a virtualised task table, a Gantt timeline, RAM and CPU
// plots (drawn through a painter that renders to canvas or SVG), summary statistics and a task panel.
(function () {
  'use strict';

  // ---------------------------------------------------------------- helpers
  const $ = (id) => document.getElementById(id);
  // The seq the page shows, and when it started showing it (the browser test's measure of the live page's delay).
  const showSeq = (seq) => { document.body.dataset.seq = String(seq); document.body.dataset.shownAt = String(Date.now()); };
  const el = (tag, attrs, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c !== null && c !== undefined) e.append(c);
    return e;
  };
  const STATE_COLORS = {
    planned: '#9aa4b2', submitted: '#c9d3e3', running: '#3b82f6', succeeded: '#22a06b',
    failed: '#d9363e', lost: '#e8890c', cancelled: '#8e6bbf',
  };
  const QUEUED_COLOR = '#c9d3e3';
  const SERIES_COLORS = ['#2f6fdb', '#d9363e', '#22a06b', '#e8890c', '#8e6bbf', '#0f9fb5', '#b5448a', '#6b7b1a', '#7a4b2a', '#4b5563'];

  const fmt = {
    int(n) { return n === null || n === undefined ? '' : Number(n).toLocaleString('en-US'); },
    bytes(n) {
      if (n === null || n === undefined) return '';
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let v = Number(n), u = 0;
      while (Math.abs(v) >= 1024 && u < units.length - 1) { v /= 1024; u++; }
      return (u === 0 ? String(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)) + ' ' + units[u];
    },
    secs(s) {
      if (s === null || s === undefined) return '';
      if (s < 1) return Math.round(s * 1000) + ' ms';
      if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + ' s';
      const r = Math.round(s), h = Math.floor(r / 3600), m = Math.floor((r % 3600) / 60), sec = r % 60;  // 359.6 s is 6m 00s
      return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m` : `${m}m ${String(sec).padStart(2, '0')}s`;
    },
    pct(p) { return p === null || p === undefined ? '' : p.toFixed(p < 10 ? 1 : 0) + ' %'; },
    clock(us) { return us === null || us === undefined ? '' : new Date(us / 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'); },
  };

  function showError(message) {
    const b = $('error-banner');
    b.hidden = false;
    b.textContent = message;
  }

  // ---------------------------------------------------------------- data sources
  async function decodeBlock(id) {
    const node = document.getElementById(id);
    if (!node) return null;
    const text = node.textContent.trim();
    let bytes;
    if (Uint8Array.fromBase64) bytes = Uint8Array.fromBase64(text);
    else {
      const bin = atob(text);
      bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    }
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
    return JSON.parse(await new Response(stream).text());
  }

  function makeSource() {
    const live = document.getElementById('clowdr-live');
    if (!live) {
      return {
        live: false,
        core: () => decodeBlock('clowdr-core'),
        detail: () => decodeBlock('clowdr-detail'),
        task: async () => null,
      };
    }
    const base = JSON.parse(live.textContent).api;
    const get = async (path) => {
      const r = await fetch(base + path, { cache: 'no-store' });
      if (!r.ok) throw new Error(`${base + path}: HTTP ${r.status}`);
      return r.json();
    };
    return {
      live: true,
      core: () => get('core'),
      detail: () => get('detail'),
      task: (id) => get('task/' + encodeURIComponent(id)),
      version: () => get('version'),
      events: () => new EventSource(base + 'events'),
    };
  }

  // ---------------------------------------------------------------- state
  const R = {
    source: null, core: null, detail: null,
    order: new Uint32Array(0),        // task indexes that pass the filters, in display order
    sort: { key: 'id', dir: 1 },
    showParams: false,
    plotted: [],                      // task indexes shown in the RAM/CPU plots
    current: null,                    // task index shown in the panel
    taskCache: new Map(),             // live mode: task id -> api/task answer
    index: null,                      // live mode: task id -> index, made when a change first needs it
  };
  const T = () => R.core.tasks;

  // ---------------------------------------------------------------- columns
  function columns() {
    const t = T(), states = R.core.states;
    const cols = [
      { key: 'plot', label: '', title: 'Show in the RAM and CPU plots', kind: 'plot' },
      { key: 'id', label: 'Task', text: (i) => t.id[i], sortText: true },
      ...(R.core.params.length ? [{ key: 'labels', label: 'Labels', text: labelText, sortText: true }] : []),
      { key: 'state', label: 'State', text: (i) => states[t.state[i]], sortText: true, kind: 'state' },
      { key: 'attempts', label: 'Attempts', num: (i) => t.attempts[i], show: (v) => fmt.int(v) },
      { key: 'exit', label: 'Exit', num: (i) => t.exit[i] ?? (t.signal[i] !== null ? -t.signal[i] : null),
        show: (v, i) => t.signal[i] !== null ? 'signal ' + t.signal[i] : (v === null ? '' : String(v)) },
      { key: 'duration', label: 'Duration', num: (i) => t.duration[i], show: fmt.secs },
      { key: 'rss', label: 'Peak RAM', num: (i) => t.rss[i], show: fmt.bytes },
      { key: 'cpu', label: 'CPU', num: (i) => t.cpu[i], show: fmt.pct },
      ...(t.undeclared && t.undeclared.some((v) => v !== null)
        ? [{ key: 'undeclared', label: 'Undeclared files', title: 'Files read or written outside the declared inputs, outputs and working folder',
          num: (i) => t.undeclared[i], show: (v) => v === null || v === undefined ? '' : fmt.int(v) }] : []),
      { key: 'reason', label: 'Failure reason', text: (i) => t.reason[i] ?? '', sortText: true },
    ];
    if (R.showParams) {
      R.core.params.forEach((name, k) => {
        const col = t.params[k];
        const numeric = col.every((v) => v === null || (v !== '' && !isNaN(Number(v))));
        cols.push(numeric
          ? { key: 'p:' + name, label: name, num: (i) => col[i] === null ? null : Number(col[i]), show: (v, i) => col[i] ?? '', param: true }
          : { key: 'p:' + name, label: name, text: (i) => col[i] ?? '', sortText: true, param: true });
      });
    }
    return cols;
  }

  // What tells a task apart (participant, session, swept values, invocation file), as `name=value ...`.
  function labelText(i) {
    const t = T(), parts = [];
    R.core.params.forEach((name, k) => { if (t.params[k][i] !== null) parts.push(name + '=' + t.params[k][i]); });
    return parts.join(' ');
  }

  // A task as people read it: its id and its labels.
  function taskName(i) {
    const l = labelText(i);
    return l ? `${T().id[i]} (${l})` : T().id[i];
  }

  // ---------------------------------------------------------------- filtering and sorting
  function readFilters() {
    const num = (id, scale = 1) => { const v = $(id).value; return v === '' ? null : Number(v) * scale; };
    return {
      text: $('f-text').value.trim().toLowerCase(),
      state: $('f-state').value,
      dur: [num('f-dur-min'), num('f-dur-max')],
      rss: [num('f-rss-min', 1048576), num('f-rss-max', 1048576)],
      cpu: [num('f-cpu-min'), num('f-cpu-max')],
    };
  }

  function applyFilters() {
    const t = T(), f = readFilters(), n = t.id.length;
    const stateCode = f.state === '' ? -1 : R.core.states.indexOf(f.state);
    const inRange = (v, [lo, hi]) => (lo === null || (v !== null && v >= lo)) && (hi === null || (v !== null && v <= hi));
    const haystack = f.text === '' ? null : (i) => {
      let s = t.id[i] + ' ' + R.core.states[t.state[i]] + ' ' + (t.reason[i] ?? '');
      for (const col of t.params) if (col[i] !== null) s += ' ' + col[i];
      return s.toLowerCase();
    };
    const keep = new Uint32Array(n);
    let m = 0;
    for (let i = 0; i < n; i++) {
      if (stateCode >= 0 && t.state[i] !== stateCode) continue;
      if (!inRange(t.duration[i], f.dur) || !inRange(t.rss[i], f.rss) || !inRange(t.cpu[i], f.cpu)) continue;
      if (haystack && !haystack(i).includes(f.text)) continue;
      keep[m++] = i;
    }
    R.order = keep.slice(0, m);
    sortRows();
  }

  function sortRows() {
    const col = columns().find((c) => c.key === R.sort.key) || columns()[1];
    const dir = R.sort.dir;
    const idx = Array.from(R.order);
    if (col.num) {
      const v = new Float64Array(T().id.length).fill(NaN);
      for (const i of idx) { const x = col.num(i); if (x !== null && x !== undefined) v[i] = x; }
      // Missing values last in both directions; ties in task order.
      idx.sort((a, b) => {
        const x = v[a], y = v[b];
        if (isNaN(x) || isNaN(y)) return isNaN(x) === isNaN(y) ? a - b : isNaN(x) ? 1 : -1;
        return x === y ? a - b : (x < y ? -dir : dir);
      });
    } else if (col.key !== 'id') {
      const collator = new Intl.Collator('en', { numeric: true });
      idx.sort((a, b) => collator.compare(col.text(a), col.text(b)) * dir || a - b);
    } else if (dir < 0) idx.reverse();  // tasks are already in id order
    R.order = Uint32Array.from(idx);
    renderTable(true);
    writeHash();
  }

  // ---------------------------------------------------------------- the table (virtualised: only visible rows exist)
  const ROW_H = 26;
  function renderHead() {
    const head = $('task-head');
    head.replaceChildren();
    columns().forEach((c, k) => {
      const sorted = R.sort.key === c.key ? (R.sort.dir > 0 ? 'ascending' : 'descending') : 'none';
      const th = el('th', { 'data-key': c.key, 'aria-sort': c.kind === 'plot' ? null : sorted, 'aria-colindex': k + 1, title: c.title });
      if (c.kind === 'plot') th.textContent = 'Plot';
      else th.append(el('button', { type: 'button', text: c.label, onclick: () => {
        R.sort = { key: c.key, dir: R.sort.key === c.key ? -R.sort.dir : (c.num ? -1 : 1) };
        renderHead();
        sortRows();
      } }));
      head.append(th);
    });
  }

  function renderTable(resetScroll) {
    const scroll = $('table-scroll'), body = $('task-body'), table = $('task-table');
    const total = R.order.length, cols = columns();
    if (resetScroll) scroll.scrollTop = 0;
    table.setAttribute('aria-rowcount', String(total + 1));
    table.dataset.rows = String(total);
    $('row-status').textContent = `${fmt.int(total)} of ${fmt.int(T().id.length)} tasks`;
    const first = Math.max(0, Math.floor(scroll.scrollTop / ROW_H) - 10);
    const count = Math.ceil(scroll.clientHeight / ROW_H) + 20;
    const last = Math.min(total, first + count);
    const rows = [];
    rows.push(el('tr', { class: 'spacer', 'aria-hidden': 'true' }, el('td', { colspan: cols.length, style: `height:${first * ROW_H}px` })));
    const plotted = new Set(R.plotted);
    for (let r = first; r < last; r++) {
      const i = R.order[r];
      const tr = el('tr', { class: 'row' + (i === R.current ? ' current' : ''), 'aria-rowindex': r + 2, 'data-task': i });
      for (const c of cols) {
        if (c.kind === 'plot') {
          tr.append(el('td', { 'data-col': c.key }, el('input', { type: 'checkbox', 'aria-label': 'plot', checked: plotted.has(i), 'data-plot-task': i })));
        } else if (c.kind === 'state') {
          const s = R.core.states[T().state[i]];
          tr.append(el('td', { 'data-col': c.key }, el('span', { class: 'state', style: `--c:${STATE_COLORS[s]}`, text: s })));
        } else if (c.num) {
          const v = c.num(i);
          tr.append(el('td', { class: 'num', 'data-col': c.key, 'data-value': v ?? '', text: c.show ? c.show(v, i) : String(v ?? '') }));
        } else {
          const s = c.text(i);
          tr.append(el('td', { 'data-col': c.key, title: s.length > 40 ? s : null, text: s }));
        }
      }
      rows.push(tr);
    }
    rows.push(el('tr', { class: 'spacer', 'aria-hidden': 'true' }, el('td', { colspan: cols.length, style: `height:${(total - last) * ROW_H}px` })));
    body.replaceChildren(...rows);
  }

  function tableCSV() {
    const cols = columns().filter((c) => c.kind !== 'plot');
    const q = (s) => /[",\n\r]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
    const lines = [cols.map((c) => q(c.label)).join(',')];
    for (const i of R.order) {
      lines.push(cols.map((c) => {
        if (c.key === 'exit') return c.show(c.num(i), i);
        if (c.num) { const v = c.num(i); return v === null || v === undefined ? '' : String(v); }
        return q(c.text(i));
      }).join(','));
    }
    return lines.join('\n') + '\n';
  }

  function download(name, blob) {
    const a = el('a', { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  // ---------------------------------------------------------------- painters: one drawing code, canvas or SVG
  class CanvasPainter {
    constructor(canvas, height) {
      const dpr = window.devicePixelRatio || 1;
      const w = canvas.clientWidth || 800;
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(height * dpr);
      canvas.style.height = height + 'px';
      this.ctx = canvas.getContext('2d');
      this.ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      this.ctx.clearRect(0, 0, w, height);
      this.width = w;
      this.height = height;
      this.boxes = [];  // every label's box, so a test can tell that no two overlap
    }
    rect(x, y, w, h, fill) { this.ctx.fillStyle = fill; this.ctx.fillRect(x, y, w, h); }
    line(x1, y1, x2, y2, stroke, width = 1) {
      const c = this.ctx;
      c.strokeStyle = stroke; c.lineWidth = width; c.beginPath(); c.moveTo(x1, y1); c.lineTo(x2, y2); c.stroke();
    }
    polyline(points, stroke, width = 1.5) {
      if (points.length === 0) return;
      const c = this.ctx;
      c.strokeStyle = stroke; c.lineWidth = width; c.lineJoin = 'round'; c.beginPath();
      points.forEach(([x, y], k) => (k === 0 ? c.moveTo(x, y) : c.lineTo(x, y)));
      c.stroke();
    }
    text(x, y, s, { align = 'left', color = '#667085', size = 11, baseline = 'middle' } = {}) {
      const c = this.ctx;
      c.fillStyle = color; c.font = `${size}px system-ui, "DejaVu Sans", sans-serif`; c.textAlign = align; c.textBaseline = baseline;
      c.fillText(s, x, y);
      const m = c.measureText(s), w = m.width, left = align === 'right' ? x - w : align === 'center' ? x - w / 2 : x;
      const top = baseline === 'middle' ? y - size / 2 : baseline === 'bottom' ? y - size : y;
      this.boxes.push({ s, left, top, right: left + w, bottom: top + size });
    }
    /** The pairs of labels drawn over each other, as "a / b". */
    overlaps() {
      const b = this.boxes, out = [];
      for (let i = 0; i < b.length; i++) for (let j = i + 1; j < b.length; j++) {
        if (b[i].left < b[j].right && b[j].left < b[i].right && b[i].top < b[j].bottom && b[j].top < b[i].bottom) out.push(`${b[i].s} / ${b[j].s}`);
      }
      return out;
    }
  }

  class SVGPainter {
    constructor(width, height) { this.width = width; this.height = height; this.parts = []; }
    static esc(s) { return String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c])); }
    rect(x, y, w, h, fill) { this.parts.push(`<rect x="${+x.toFixed(2)}" y="${+y.toFixed(2)}" width="${+w.toFixed(2)}" height="${+h.toFixed(2)}" fill="${fill}"/>`); }
    line(x1, y1, x2, y2, stroke, width = 1) { this.parts.push(`<line x1="${x1}" y1="${y1}" x2="${x2}" y2="${y2}" stroke="${stroke}" stroke-width="${width}"/>`); }
    polyline(points, stroke, width = 1.5) {
      if (points.length === 0) return;
      this.parts.push(`<polyline fill="none" stroke="${stroke}" stroke-width="${width}" stroke-linejoin="round" points="${points.map(([x, y]) => `${+x.toFixed(2)},${+y.toFixed(2)}`).join(' ')}"/>`);
    }
    text(x, y, s, { align = 'left', color = '#667085', size = 11, baseline = 'middle' } = {}) {
      const anchor = { left: 'start', center: 'middle', right: 'end' }[align];
      const dy = baseline === 'middle' ? '0.35em' : baseline === 'top' ? '0.8em' : '0';
      this.parts.push(`<text x="${x}" y="${y}" dy="${dy}" text-anchor="${anchor}" fill="${color}" font-size="${size}" font-family="sans-serif">${SVGPainter.esc(s)}</text>`);
    }
    toString() {
      return `<svg xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}">` +
        `<rect width="100%" height="100%" fill="#fff"/>${this.parts.join('')}</svg>\n`;
    }
  }

  /// Round tick values for [lo, hi] (about `n` of them).
  function ticks(lo, hi, n) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(v);
    return out;
  }
  function timeTicks(lo, hi, n) {  // seconds: steps of 1 s, 5 s, 15 s, 1 min, ... 1 day
    const steps = [0.001, 0.01, 0.1, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400];
    const step = steps.find((s) => (hi - lo) / s <= n) || 86400 * Math.ceil((hi - lo) / n / 86400);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) out.push(v);
    return out;
  }
  const shortTime = (s) => {
    const a = Math.abs(s), sign = s < 0 ? '-' : '';
    if (a < 1) return sign + Math.round(a * 1000) + 'ms';
    if (a < 60) return sign + (+a.toFixed(1)) + 's';
    if (a < 3600) return sign + Math.floor(a / 60) + 'm' + (a % 60 ? String(Math.round(a % 60)).padStart(2, '0') + 's' : '');
    return sign + Math.floor(a / 3600) + 'h' + String(Math.floor((a % 3600) / 60)).padStart(2, '0');
  };

  // ---------------------------------------------------------------- Gantt
  const G = { lanes: 0, lane: null, begin: null, end: null, byLane: [], view: null, full: null, laneH: 10, top: 6, axis: 22, drawn: 0 };

  function layoutGantt() {
    const a = R.core.attempts, n = a.task.length;
    const asOf = R.core.as_of ? (Date.parse(R.core.as_of) * 1000 - R.core.t0) / 1000 : 0;
    G.begin = new Float64Array(n); G.end = new Float64Array(n); G.lane = new Int32Array(n).fill(-1);
    const order = [];
    let lo = Infinity, hi = -Infinity;
    for (let k = 0; k < n; k++) {
      const b = a.submitted[k] ?? a.started[k];
      if (b === null || b === undefined) continue;
      const e = a.ended[k] ?? Math.max(asOf, a.started[k] ?? b, b);
      G.begin[k] = b / 1000; G.end[k] = Math.max(e, b) / 1000;
      lo = Math.min(lo, G.begin[k]); hi = Math.max(hi, G.end[k]);
      order.push(k);
    }
    order.sort((x, y) => G.begin[x] - G.begin[y] || x - y);
    // Greedy interval packing with a min-heap of lane end times: as many lanes as attempts overlapped at once.
    const heap = [];  // [end, lane]
    const push = (item) => { heap.push(item); let i = heap.length - 1; while (i > 0) { const p = (i - 1) >> 1; if (heap[p][0] <= heap[i][0]) break; [heap[p], heap[i]] = [heap[i], heap[p]]; i = p; } };
    const pop = () => { const top = heap[0], last = heap.pop(); if (heap.length) { heap[0] = last; let i = 0; for (;;) { const l = 2 * i + 1, r = l + 1; let m = i; if (l < heap.length && heap[l][0] < heap[m][0]) m = l; if (r < heap.length && heap[r][0] < heap[m][0]) m = r; if (m === i) break; [heap[m], heap[i]] = [heap[i], heap[m]]; i = m; } } return top; };
    let lanes = 0;
    for (const k of order) {
      let lane;
      if (heap.length && heap[0][0] <= G.begin[k]) lane = pop()[1]; else lane = lanes++;
      G.lane[k] = lane;
      push([G.end[k], lane]);
    }
    G.lanes = lanes;
    G.byLane = Array.from({ length: lanes }, () => []);
    for (const k of order) G.byLane[G.lane[k]].push(k);
    if (!isFinite(lo)) { lo = 0; hi = 1; }
    const pad = Math.max((hi - lo) * 0.01, 0.001);
    G.full = [lo - pad, hi + pad];
    if (!G.view) G.view = G.full.slice();
    G.count = order.length;
    const legend = $('gantt-legend');
    legend.replaceChildren(el('span', {}, el('span', { class: 'dot', style: `background:${QUEUED_COLOR}` }), 'queued'),
      ...['running', 'succeeded', 'failed', 'lost', 'cancelled'].map((s) => el('span', {}, el('span', { class: 'dot', style: `background:${STATE_COLORS[s]}` }), s)),
      el('span', { class: 'muted', text: `${fmt.int(G.count)} attempts in ${fmt.int(lanes)} lanes` }));
  }

  function drawGantt(p) {
    const a = R.core.attempts, states = R.core.states;
    const W = p.width, left = 8, right = 8;
    const [v0, v1] = G.view, sx = (W - left - right) / (v1 - v0);
    const x = (s) => left + (s - v0) * sx;
    const laneH = G.laneH, top = G.top;
    const plotBottom = top + G.lanes * laneH;
    // Axis and grid.
    for (const t of timeTicks(v0, v1, Math.max(2, Math.floor(W / 110)))) {
      p.line(x(t), top, x(t), plotBottom, '#eef1f5');
      p.text(x(t), plotBottom + 11, shortTime(t), { align: 'center' });
    }
    const barH = Math.max(1, laneH - (laneH > 4 ? 2 : 0));
    // One fill colour at a time (fast on canvas); queued segments first.
    let drawn = 0;
    const visible = (k) => G.lane[k] >= 0 && G.end[k] >= v0 && G.begin[k] <= v1;
    for (let k = 0; k < a.task.length; k++) {
      if (G.lane[k] < 0) continue;
      drawn++;
      if (!visible(k) || a.submitted[k] === null || a.started[k] === null) continue;
      const b = x(G.begin[k]), e = x(Math.max(G.begin[k], a.started[k] / 1000));
      if (e - b > 0.5) p.rect(b, top + G.lane[k] * laneH, e - b, barH, QUEUED_COLOR);
    }
    const groups = new Map();
    for (let k = 0; k < a.task.length; k++) {
      if (!visible(k)) continue;
      const s = states[a.state[k]];
      if (!groups.has(s)) groups.set(s, []);
      groups.get(s).push(k);
    }
    for (const [s, ks] of groups) {
      const color = s === 'submitted' ? QUEUED_COLOR : STATE_COLORS[s] || '#999';
      for (const k of ks) {
        const start = a.started[k] === null ? G.begin[k] : Math.max(G.begin[k], a.started[k] / 1000);
        if (s === 'submitted' || a.started[k] === null) { p.rect(x(G.begin[k]), top + G.lane[k] * laneH, Math.max(1, x(G.end[k]) - x(G.begin[k])), barH, color); continue; }
        const b = x(start), e = x(G.end[k]);
        p.rect(b, top + G.lane[k] * laneH, Math.max(1, e - b), barH, color);
      }
    }
    if (R.current !== null) {  // outline the selected task's attempts
      for (let k = 0; k < a.task.length; k++) {
        if (a.task[k] !== R.current || !visible(k)) continue;
        const y = top + G.lane[k] * laneH, b = x(G.begin[k]), e = x(G.end[k]);
        p.line(b, y - 1, e, y - 1, '#1d2430', 2); p.line(b, y + barH + 1, e, y + barH + 1, '#1d2430', 2);
      }
    }
    return drawn;
  }

  function ganttHeight() {
    const available = 520;
    G.laneH = Math.max(1, Math.min(14, Math.floor(available / Math.max(1, G.lanes))));
    return G.top + G.lanes * G.laneH + G.axis;
  }

  function renderGantt() {
    const canvas = $('gantt');
    const p = new CanvasPainter(canvas, ganttHeight());
    G.drawn = drawGantt(p);
    canvas.dataset.bars = String(G.drawn);
    canvas.dataset.lanes = String(G.lanes);
  }

  function ganttHit(ev) {
    const canvas = $('gantt'), rect = canvas.getBoundingClientRect();
    const mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
    const lane = Math.floor((my - G.top) / G.laneH);
    if (lane < 0 || lane >= G.lanes) return null;
    const [v0, v1] = G.view, W = canvas.clientWidth, sx = (W - 16) / (v1 - v0);
    const t = v0 + (mx - 8) / sx, slack = 3 / sx;
    const list = G.byLane[lane];
    let lo = 0, hi = list.length - 1, found = null;
    while (lo <= hi) {  // last attempt beginning at or before t (+ a few pixels)
      const mid = (lo + hi) >> 1;
      if (G.begin[list[mid]] <= t + slack) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (found === null) return null;
    const k = list[found];
    return G.end[k] + slack >= t ? { k, mx, my } : null;
  }

  function attemptText(k) {
    const a = R.core.attempts, t = T(), i = a.task[k];
    const lines = [`task ${t.id[i]}  attempt ${a.attempt[k]}  ${R.core.states[a.state[k]]}`];
    if (labelText(i)) lines.push(labelText(i));
    const abs = (ms) => fmt.clock(R.core.t0 + ms * 1000);
    if (a.submitted[k] !== null) lines.push(`submitted ${abs(a.submitted[k])}`);
    if (a.started[k] !== null) lines.push(`started   ${abs(a.started[k])}` + (a.submitted[k] !== null ? `  (queued ${fmt.secs((a.started[k] - a.submitted[k]) / 1000)})` : ''));
    if (a.ended[k] !== null) lines.push(`ended     ${abs(a.ended[k])}  (ran ${fmt.secs((a.ended[k] - (a.started[k] ?? a.submitted[k])) / 1000)})`);
    if (a.exit[k] !== null) lines.push(`exit ${a.exit[k]}`);
    if (a.signal[k] !== null) lines.push(`signal ${a.signal[k]}`);
    if (a.rss[k] !== null) lines.push(`peak RAM ${fmt.bytes(a.rss[k])}`);
    if (a.host[k]) lines.push(`host ${a.host[k]}`);
    return lines.join('\n');
  }

  function wireGantt() {
    const canvas = $('gantt'), tip = $('tooltip');
    let drag = null;
    canvas.addEventListener('mousemove', (ev) => {
      if (drag) {
        const W = canvas.clientWidth, span = drag.view[1] - drag.view[0];
        const dt = (ev.clientX - drag.x) / (W - 16) * span;
        G.view = [drag.view[0] - dt, drag.view[1] - dt];
        drag.moved = drag.moved || Math.abs(ev.clientX - drag.x) > 3;
        renderGantt();
        return;
      }
      const hit = ganttHit(ev);
      if (!hit) { tip.hidden = true; return; }
      tip.textContent = attemptText(hit.k);
      tip.hidden = false;
      tip.style.left = Math.min(hit.mx + 14, canvas.clientWidth - tip.offsetWidth - 4) + 'px';
      tip.style.top = (hit.my + 14) + 'px';
    });
    canvas.addEventListener('mouseleave', () => { tip.hidden = true; drag = null; });
    canvas.addEventListener('mousedown', (ev) => { drag = { x: ev.clientX, view: G.view.slice(), moved: false }; });
    canvas.addEventListener('mouseup', (ev) => {
      const wasDrag = drag && drag.moved;
      drag = null;
      if (wasDrag) return;
      const hit = ganttHit(ev);
      if (hit) selectTask(R.core.attempts.task[hit.k], { plot: ev.ctrlKey || ev.metaKey || ev.shiftKey ? 'toggle' : 'only' });
    });
    canvas.addEventListener('wheel', (ev) => {
      ev.preventDefault();
      const rect = canvas.getBoundingClientRect(), W = canvas.clientWidth;
      const [v0, v1] = G.view, at = v0 + (ev.clientX - rect.left - 8) / (W - 16) * (v1 - v0);
      zoom(ev.deltaY < 0 ? 0.8 : 1.25, at);
    }, { passive: false });
    canvas.addEventListener('dblclick', () => { G.view = G.full.slice(); renderGantt(); });
    document.querySelectorAll('[data-zoom]').forEach((b) => b.addEventListener('click', () => {
      const z = b.dataset.zoom;
      if (z === 'reset') { G.view = G.full.slice(); renderGantt(); } else zoom(z === 'in' ? 0.5 : 2, (G.view[0] + G.view[1]) / 2);
    }));
  }

  function zoom(factor, at) {
    const [v0, v1] = G.view;
    const span = Math.max((v1 - v0) * factor, 0.01);
    const f = (at - v0) / (v1 - v0);
    G.view = [at - f * span, at - f * span + span];
    renderGantt();
  }

  // ---------------------------------------------------------------- RAM and CPU plots
  function seriesOf(i) {
    if (R.source.live) {
      const d = R.taskCache.get(T().id[i]);
      if (!d) return undefined;  // not fetched yet
      const last = d.attempts[d.attempts.length - 1];
      return last ? last.samples : null;
    }
    return R.detail ? (R.detail.samples[i] || null) : undefined;
  }

  function drawLines(p, metric) {
    // B: the time ticks' row, then the axis title's row below it.
    const W = p.width, H = p.height, L = 64, Rm = 12, Tm = 10, B = 38;
    const series = R.plotted.map((i, k) => ({ i, k, s: seriesOf(i) })).filter((x) => x.s && x.s.t.length);
    let tmax = 0, ymax = 0;
    for (const { s } of series) {
      tmax = Math.max(tmax, s.t[s.t.length - 1]);
      for (const v of s[metric]) ymax = Math.max(ymax, v);
    }
    if (tmax <= 0) tmax = 1;
    if (ymax <= 0) ymax = metric === 'cpu' ? 100 : 1;
    const yt = metric === 'rss' ? ticks(0, ymax / 1048576, 5).map((v) => v * 1048576) : ticks(0, ymax, 5);
    ymax = Math.max(ymax, yt[yt.length - 1]);
    const x = (t) => L + (t / tmax) * (W - L - Rm), y = (v) => H - B - (v / ymax) * (H - B - Tm);
    for (const v of yt) {
      p.line(L, y(v), W - Rm, y(v), '#eef1f5');
      p.text(L - 6, y(v), metric === 'rss' ? fmt.bytes(v) : Math.round(v) + ' %', { align: 'right' });
    }
    for (const t of timeTicks(0, tmax, Math.max(2, Math.floor(W / 90)))) p.text(x(t), H - B + 12, shortTime(t), { align: 'center' });
    p.line(L, H - B, W - Rm, H - B, '#9aa4b2');
    p.text(W - Rm, H - 4, 'time since the attempt started', { align: 'right', baseline: 'bottom', size: 10 });
    for (const { s, k } of series) p.polyline(s.t.map((t, j) => [x(t), y(s[metric][j])]), SERIES_COLORS[k % SERIES_COLORS.length]);
    if (series.length === 0) p.text(W / 2, H / 2, R.plotted.length ? 'no samples for the selected tasks' : 'no task selected', { align: 'center', size: 13 });
    return series.length;
  }

  async function renderPlots() {
    if (R.source.live) {
      const missing = R.plotted.filter((i) => !R.taskCache.has(T().id[i]));
      await Promise.all(missing.map((i) => fetchTask(T().id[i]).catch(() => null)));
    }
    const ramPainter = new CanvasPainter($('ram-plot'), 260), cpuPainter = new CanvasPainter($('cpu-plot'), 260);
    const ram = drawLines(ramPainter, 'rss');
    drawLines(cpuPainter, 'cpu');
    $('ram-plot').dataset.series = String(ram);
    $('ram-plot').dataset.overlaps = JSON.stringify(ramPainter.overlaps());
    $('cpu-plot').dataset.overlaps = JSON.stringify(cpuPainter.overlaps());
    const legend = $('plot-legend');
    legend.replaceChildren(...R.plotted.map((i, k) => {
      const s = seriesOf(i);
      const note = s === undefined ? ' (loading)' : s === null ? ' (no samples in this report)' : s.n > s.t.length ? ` (${s.t.length} of ${s.n} samples, peaks kept)` : '';
      return el('span', {}, el('span', { class: 'dot', style: `background:${SERIES_COLORS[k % SERIES_COLORS.length]}` }), taskName(i) + note);
    }));
    if (!R.source.live && R.detail) {
      const b = R.detail.budget;
      $('plot-note').textContent = b.sample_tasks < T().id.length ? `samples embedded for ${fmt.int(b.sample_tasks)} of ${fmt.int(T().id.length)} tasks (failed and highest RAM first); clowdr share shows every task` : '';
    }
  }

  function topByRAM(n) {
    const t = T();
    return Array.from(t.id.keys()).filter((i) => t.rss[i] !== null).sort((a, b) => t.rss[b] - t.rss[a] || a - b).slice(0, n);
  }

  // ---------------------------------------------------------------- selection and the task panel
  async function fetchTask(id) {
    if (R.taskCache.has(id)) return R.taskCache.get(id);
    const d = await R.source.task(id);
    R.taskCache.set(id, d);
    return d;
  }

  function selectTask(i, { plot = 'none', scroll = true } = {}) {
    R.current = i;
    if (plot === 'only') R.plotted = [i];
    else if (plot === 'toggle') R.plotted = R.plotted.includes(i) ? R.plotted.filter((x) => x !== i) : [...R.plotted, i];
    renderTable(false);
    renderGantt();
    renderPlots();
    renderDetail().catch((e) => showError(String(e)));
    writeHash();
    if (scroll) $('detail-section').scrollIntoView({ block: 'nearest' });
  }

  function pre(text, label) { return el('pre', { 'aria-label': label }, text); }

  async function renderDetail() {
    const i = R.current, t = T(), box = $('detail');
    if (i === null) return;
    box.className = '';
    box.dataset.task = t.id[i];
    const a = R.core.attempts;
    const kv = el('dl', { class: 'kv' });
    const add = (k, v) => kv.append(el('dt', { text: k }), el('dd', {}, v));
    add('task', t.id[i]);
    add('state', R.core.states[t.state[i]]);
    R.core.params.forEach((name, k) => { if (t.params[k][i] !== null) add(name, t.params[k][i]); });
    if (t.reason[i]) add('failure', t.reason[i]);
    const attemptRows = [];
    for (let k = 0; k < a.task.length; k++) if (a.task[k] === i) attemptRows.push(k);
    attemptRows.sort((x, y) => a.attempt[x] - a.attempt[y]);
    const attemptsTable = el('table', { class: 'plain' },
      el('tr', {}, ...['attempt', 'state', 'host', 'started', 'ran', 'exit', 'peak RAM'].map((h) => el('th', { text: h }))),
      ...attemptRows.map((k) => el('tr', {},
        el('td', { text: String(a.attempt[k]) }), el('td', { text: R.core.states[a.state[k]] }), el('td', { text: a.host[k] ?? '' }),
        el('td', { text: a.started[k] === null ? '' : fmt.clock(R.core.t0 + a.started[k] * 1000) }),
        el('td', { text: a.ended[k] === null || a.started[k] === null ? '' : fmt.secs((a.ended[k] - a.started[k]) / 1000) }),
        el('td', { text: a.signal[k] !== null ? 'signal ' + a.signal[k] : String(a.exit[k] ?? '') }),
        el('td', { text: fmt.bytes(a.rss[k]) }))));
    const parts = [kv, el('h3', { text: 'Attempts' }), attemptsTable];
    const d = R.detail;
    if (d) {
      parts.push(el('h3', { text: 'Command line' }), pre(d.command_line[i] ?? '', 'command line'));
      parts.push(el('h3', { text: 'Invocation' }), pre(JSON.stringify(d.invocation[i], null, 2), 'invocation'));
    } else parts.push(el('p', { class: 'muted', text: 'loading command line and invocation…' }));
    box.replaceChildren(...parts);
    // Outputs and logs: embedded (static, within their budgets) or fetched (live, every task).
    let logs = null, outs;
    if (R.source.live) {
      const info = await fetchTask(t.id[i]);
      if (R.current !== i) return;
      const last = info.attempts[info.attempts.length - 1];
      logs = last ? last.logs : null;
      outs = last ? last.outputs : null;
    } else if (d) {
      logs = d.logs[i] || null;
      outs = d.outputs[i] !== undefined ? d.outputs[i] : d.budget.outputs_complete ? null : undefined;
    }
    box.append(el('h3', { text: `Outputs of attempt ${t.attempts[i]}` }));
    if (outs === undefined) box.append(el('p', { class: 'muted', text: d ? 'not embedded in this report (its budget went to failed tasks and the highest RAM first); clowdr share and clowdr export json have them' : 'loading…' }));
    else if (!outs || outs.length === 0) box.append(el('p', { class: 'muted', text: 'none recorded' }));
    else box.append(el('table', { class: 'plain outputs' }, el('tr', {}, ...['id', 'path', 'size', 'sha256'].map((h) => el('th', { text: h }))),
      ...outs.map((o) => el('tr', {}, el('td', { text: o.id }), el('td', { text: o.path }), el('td', { text: o.size === null || o.size === undefined ? 'missing' : fmt.bytes(o.size) }),
        el('td', {}, el('code', { text: o.sha256 ?? '' }))))));
    const env = d && d.environment ? d.environment[i] : null;
    if (env) {
      const facts = el('dl', { class: 'kv', 'aria-label': 'environment' });
      const names = { clowdr_version: 'clowdr', cpu_model: 'CPU', cpus: 'CPUs', memory: 'memory', kernel: 'kernel', os_release: 'OS', instance_type: 'instance type', spot: 'spot', image: 'image', image_digest: 'image digest', image_id: 'image id' };
      for (const [k, label] of Object.entries(names)) {
        if (env[k] === undefined || env[k] === null) continue;
        facts.append(el('dt', { text: label }), el('dd', { text: k === 'memory' ? fmt.bytes(env[k]) : String(env[k]) }));
      }
      box.append(el('h3', { text: `Ran with (attempt ${t.attempts[i]})` }), facts);
    }
    if (t.undeclared && t.undeclared[i] > 0) {
      const paths = d && d.undeclared ? d.undeclared[i] : null;
      box.append(el('h3', { text: 'Undeclared files' }));
      box.append(el('p', { class: 'muted', text: `${fmt.int(t.undeclared[i])} read or written outside its declared inputs, outputs and working folder; clowdr query --files ${t.id[i]} lists every file it used` }));
      if (paths) box.append(el('ul', { class: 'undeclared', 'aria-label': 'undeclared files' }, ...paths.map((p) => el('li', {}, el('code', { text: p })))));
    }
    for (const stream of ['stdout', 'stderr']) {
      const path = `tasks/${t.id[i]}.${t.attempts[i]}.${stream}`;
      box.append(el('h3', { text: stream }));
      if (!logs) { box.append(el('p', { class: 'muted', text: d || R.source.live ? `not embedded in this report; the file is ${path} in the experiment folder` : 'loading…' })); continue; }
      const tail = logs[stream];
      const lines = tail.text === '' ? 0 : tail.text.replace(/\n$/, '').split('\n').length;
      box.append(el('p', { class: 'muted', text: tail.size < 0 ? `empty: no ${path} (a stream's file is made on its first byte)` : tail.complete ? `${fmt.bytes(tail.size)}, complete` : `last ${lines} lines of ${fmt.bytes(tail.size)} (${path})` }));
      box.append(pre(tail.text, stream));
    }
  }

  // ---------------------------------------------------------------- header, summary, outliers
  function renderHeader() {
    const c = R.core, e = c.experiment || {}, t = T();
    $('title').textContent = `${e.name || c.experiment_id}`;
    document.title = `clowdr · ${e.name || c.experiment_id}`;
    const a = c.attempts;
    let end = null;
    for (let k = 0; k < a.ended.length; k++) if (a.ended[k] !== null && (end === null || a.ended[k] > end)) end = a.ended[k];
    const facts = [
      ['experiment', c.experiment_id], ['tool', [e.tool_name, e.tool_version].filter(Boolean).join(' ') || '—'],
      ['descriptor sha256', e.descriptor_sha256 ? e.descriptor_sha256.slice(0, 16) + '…' : '—', e.descriptor_sha256],
      ['backend', e.backend || '—'], ['host', e.host || '—'], ['user', e.user || '—'],
      ['started', fmt.clock(c.t0)], ['ended', end === null ? '—' : fmt.clock(c.t0 + end * 1000)],
      ['as of', c.as_of ? c.as_of.replace('T', ' ').replace(/\.\d+Z$/, 'Z') + ` (event ${fmt.int(c.seq)})` : '—'],
      ['clowdr', e.clowdr_version || '—'],
    ];
    const refused = c.refused || { count: 0, first: [] }, banner = $('refused-banner');
    banner.hidden = refused.count === 0;
    banner.replaceChildren(...(refused.count === 0 ? [] : [
      el('strong', { text: `${fmt.int(refused.count)} segment line${refused.count === 1 ? '' : 's'} refused by ingest` }),
      ' (not in the record; the attempts they concern are settled by the scheduler\'s accounting): ',
      ...refused.first.flatMap((s, k) => [k ? '; ' : '', el('code', { text: s })]),
      refused.count > refused.first.length ? ` and ${fmt.int(refused.count - refused.first.length)} more (clowdr status)` : '',
    ]));
    $('facts').replaceChildren(...facts.map(([k, v, full]) => el('div', {}, el('dt', { text: k }), el('dd', { text: v, title: full || v }))));
    const counts = new Map();
    for (const s of t.state) counts.set(s, (counts.get(s) || 0) + 1);
    const current = $('f-state').value;
    $('counts').replaceChildren(el('button', { class: 'chip', type: 'button', 'aria-pressed': current === '' ? 'true' : 'false', 'data-state': '', onclick: () => setState('') }, `all ${fmt.int(t.id.length)}`),
      ...c.states.flatMap((s, k) => !counts.has(k) ? [] : [ el('button', { class: 'chip', type: 'button', 'data-state': s, 'data-count': counts.get(k), 'aria-pressed': current === s ? 'true' : 'false', onclick: () => setState(s) },
        el('span', { class: 'dot', style: `background:${STATE_COLORS[s]}` }), `${s} ${fmt.int(counts.get(k))}`)]));
    const select = $('f-state');
    select.replaceChildren(el('option', { value: '', text: 'all' }), ...c.states.map((s) => el('option', { value: s, text: s })));
    select.value = current;
    $('footer').textContent = `Written by clowdr ${e.clowdr_version || ''} from the event log of ${c.experiment_id} as of event ${c.seq}. ` +
      'Every figure is derived from that log; clowdr query answers the same questions on the command line.';
  }

  function setState(s) {
    $('f-state').value = s;
    renderHeader();
    applyFilters();
  }

  function renderSummary() {
    const s = R.core.summary;
    const rows = [['', 'n', 'min', 'p25', 'median', 'p75', 'p95', 'max', 'mean']];
    const show = { duration: fmt.secs, rss: fmt.bytes, cpu: fmt.pct };
    const names = { duration: 'Duration', rss: 'Peak RAM', cpu: 'CPU' };
    for (const m of ['duration', 'rss', 'cpu']) {
      const q = s[m];
      rows.push([names[m], fmt.int(q.n), ...['min', 'p25', 'median', 'p75', 'p95', 'max', 'mean'].map((k) => q[k] === null ? '' : show[m](q[k]))]);
    }
    $('summary').replaceChildren(...rows.map((r, k) => el('tr', {}, ...r.map((v) => el(k === 0 ? 'th' : 'td', { text: v })))));
    const list = R.core.outliers;
    $('outlier-note').textContent = list.length ? `robust z-score above 3.5 (${fmt.int(R.core.outlier_count)})` : 'none (robust z-score above 3.5)';
    const show2 = (o) => o.metric === 'rss' ? fmt.bytes(o.value) : o.metric === 'cpu' ? fmt.pct(o.value) : fmt.secs(o.value);
    $('outliers').replaceChildren(...list.map((o) => el('button', { type: 'button', 'data-task': o.task, onclick: () => selectTask(o.task, { plot: 'toggle' }) },
      `${taskName(o.task)}  ${names[o.metric]} ${show2(o)}  z=${o.z}`)));
  }

  // ---------------------------------------------------------------- URL hash: the view is shareable
  function writeHash() {
    const f = readFilters(), parts = [];
    if (R.sort.key !== 'id' || R.sort.dir !== 1) parts.push('sort=' + R.sort.key + ':' + (R.sort.dir > 0 ? 'asc' : 'desc'));
    if (f.state) parts.push('state=' + encodeURIComponent(f.state));
    if ($('f-text').value) parts.push('q=' + encodeURIComponent($('f-text').value));
    if (R.showParams) parts.push('params=1');
    if (R.current !== null) parts.push('task=' + encodeURIComponent(T().id[R.current]));
    const hash = parts.length ? '#' + parts.join('&') : '';
    if (location.hash !== hash) history.replaceState(null, '', hash || location.pathname + location.search);
  }

  function readHash() {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.get('sort')) { const [k, d] = h.get('sort').split(':'); R.sort = { key: k, dir: d === 'desc' ? -1 : 1 }; }
    if (h.get('state')) $('f-state').value = h.get('state');
    if (h.get('q')) $('f-text').value = h.get('q');
    if (h.get('params') === '1') { R.showParams = true; $('f-params').checked = true; }
    return h.get('task');
  }

  // ---------------------------------------------------------------- wiring
  function wire() {
    let timer = null;
    const later = () => { clearTimeout(timer); timer = setTimeout(() => { renderHeader(); applyFilters(); }, 150); };
    for (const id of ['f-text', 'f-dur-min', 'f-dur-max', 'f-rss-min', 'f-rss-max', 'f-cpu-min', 'f-cpu-max']) $(id).addEventListener('input', later);
    $('f-state').addEventListener('change', () => { renderHeader(); applyFilters(); });
    $('f-params').addEventListener('change', (e) => { R.showParams = e.target.checked; renderHead(); applyFilters(); });
    $('f-clear').addEventListener('click', () => {
      for (const id of ['f-text', 'f-dur-min', 'f-dur-max', 'f-rss-min', 'f-rss-max', 'f-cpu-min', 'f-cpu-max']) $(id).value = '';
      $('f-state').value = '';
      renderHeader();
      applyFilters();
    });
    $('csv').addEventListener('click', () => download(`clowdr-${R.core.experiment_id}-tasks.csv`, new Blob([tableCSV()], { type: 'text/csv' })));
    let frame = 0;
    $('table-scroll').addEventListener('scroll', () => { cancelAnimationFrame(frame); frame = requestAnimationFrame(() => renderTable(false)); });
    $('task-body').addEventListener('click', (ev) => {
      const box = ev.target.closest('input[data-plot-task]');
      if (box) { selectTask(Number(box.dataset.plotTask), { plot: 'toggle', scroll: false }); return; }
      const tr = ev.target.closest('tr.row');
      if (tr) selectTask(Number(tr.dataset.task), { plot: ev.ctrlKey || ev.metaKey || ev.shiftKey ? 'toggle' : 'none' });
    });
    $('plot-top').addEventListener('click', () => { R.plotted = topByRAM(5); renderTable(false); renderPlots(); });
    document.querySelectorAll('[data-plot] [data-download]').forEach((b) => b.addEventListener('click', () => {
      const plot = b.closest('[data-plot]').dataset.plot, kind = b.dataset.download;
      const canvas = { gantt: $('gantt'), ram: $('ram-plot'), cpu: $('cpu-plot') }[plot];
      const name = `clowdr-${R.core.experiment_id}-${plot}`;
      if (kind === 'png') canvas.toBlob((blob) => download(name + '.png', blob), 'image/png');
      else download(name + '.svg', new Blob([plotSVG(plot)], { type: 'image/svg+xml' }));
    }));
    window.addEventListener('resize', () => { renderTable(false); renderGantt(); renderPlots(); });
    wireGantt();
  }

  /// A plot as SVG text, drawn by the same code as on screen.
  function plotSVG(plot) {
    const canvas = { gantt: $('gantt'), ram: $('ram-plot'), cpu: $('cpu-plot') }[plot];
    const p = new SVGPainter(canvas.clientWidth || 800, plot === 'gantt' ? ganttHeight() : 260);
    if (plot === 'gantt') drawGantt(p); else drawLines(p, plot === 'ram' ? 'rss' : 'cpu');
    return p.toString();
  }

  function renderAll(firstTime) {
    renderHeader();
    renderSummary();
    if (firstTime) renderHead();
    applyFilters();
    layoutGantt();
    renderGantt();
  }

  // ---------------------------------------------------------------- live updates (clowdr share)
  // The documents again, keeping the sort, filters, selection and scroll position. False when they are older than
  // what the page shows already (a change pushed while they were built): then they are asked for again.
  async function reload() {
    const [core, detail] = await Promise.all([R.source.core(), R.source.detail()]);
    if (core.seq < R.core.seq) return false;
    const currentId = R.current === null ? null : T().id[R.current];
    const plottedIds = R.plotted.map((i) => T().id[i]);
    const scrollTop = $('table-scroll').scrollTop;
    R.core = core; R.detail = detail; R.taskCache.clear(); R.index = null;
    const index = taskIndex();
    R.current = currentId === null ? null : index.get(currentId) ?? null;
    R.plotted = plottedIds.map((id) => index.get(id)).filter((i) => i !== undefined);
    if (R.plotted.length === 0) R.plotted = topByRAM(5);
    const full = G.view && G.full && G.view[0] === G.full[0] && G.view[1] === G.full[1];
    renderAll(false);
    if (full) { G.view = G.full.slice(); renderGantt(); }
    $('table-scroll').scrollTop = scrollTop;
    renderTable(false);
    renderPlots();
    if (R.current !== null) renderDetail();
    showSeq(core.seq);
    return true;
  }

  function taskIndex() {
    if (!R.index) R.index = new Map(T().id.map((id, i) => [id, i]));
    return R.index;
  }

  // What the server pushed: the rows of the tasks that changed, written into the table at once (the Gantt chart,
  // plots and summary follow with the next reload of the documents, at most every 2 s). False when a task is new.
  function applyChanges(c) {
    const t = T(), index = taskIndex(), rows = c.tasks;
    const at = rows.id.map((id) => index.get(id));
    if (at.some((i) => i === undefined)) return false;
    for (const col of ['state', 'attempts', 'exit', 'signal', 'duration', 'rss', 'cpu', 'read', 'write', 'undeclared', 'reason']) {
      if (!rows[col]) continue;
      at.forEach((i, k) => { t[col][i] = rows[col][k]; });
    }
    R.core.seq = c.seq;
    R.taskCache.clear();
    renderHeader();
    renderTable(false);
    if (R.current !== null && at.includes(R.current)) renderDetail();
    showSeq(c.seq);
    return true;
  }

  function follow() {
    // ?push=off: polling, for a proxy that holds event streams back (and the benchmark's comparison).
    if (!window.EventSource || !R.source.events || new URLSearchParams(location.search).get('push') === 'off') return poll();
    let busy = false, again = false, last = 0, timer = null;
    const badge = (text) => { $('live-badge').textContent = text; };
    const refresh = async () => {
      if (busy) { again = true; return; }
      busy = true; again = false; last = Date.now();
      let current = true;
      try { current = await reload(); } catch (e) { badge('live · disconnected'); }
      busy = false;
      if (again || !current) later(current ? 0 : 250);
    };
    const later = (ms) => { clearTimeout(timer); timer = setTimeout(refresh, ms); };
    const source = R.source.events();
    source.onmessage = (m) => {
      const c = JSON.parse(m.data);
      if (c.seq === R.core.seq) { badge('live · updated ' + new Date().toLocaleTimeString('en-GB')); return; }
      if (c.tasks && !c.reload && applyChanges(c)) later(Math.max(0, 2000 - (Date.now() - last)));
      else later(0);
      badge('live · updated ' + new Date().toLocaleTimeString('en-GB'));
    };
    source.onerror = () => badge('live · reconnecting');
  }

  function poll() {
    let seq = R.core.seq, busy = false;
    setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const v = await R.source.version();
        if (v.seq !== seq) { await reload(); seq = R.core.seq; }
        $('live-badge').textContent = 'live · updated ' + new Date().toLocaleTimeString('en-GB');
      } catch (e) {
        $('live-badge').textContent = 'live · disconnected';
      } finally { busy = false; }
    }, 500);
  }

  // ---------------------------------------------------------------- start
  async function main() {
    R.source = makeSource();
    R.core = await R.source.core();
    if (!R.core) throw new Error('this report has no data block');
    showSeq(R.core.seq);
    const wanted = readHash();
    wire();
    renderAll(true);
    R.plotted = topByRAM(5);
    if (wanted !== null) {
      const i = T().id.indexOf(wanted);
      if (i >= 0) R.current = i;
    }
    renderTable(false);
    $('loading').hidden = true;
    performance.mark('clowdr-interactive');
    document.documentElement.dataset.ready = '1';
    // Then the detail (command lines, invocations, samples, logs): the page is usable meanwhile.
    R.detail = await R.source.detail();
    await renderPlots();
    if (R.current !== null) await renderDetail();
    document.documentElement.dataset.detail = '1';
    if (R.source.live) { $('live-badge').hidden = false; follow(); }
  }

  window.clowdrReport = { state: R, csv: tableCSV, svg: plotSVG, selectTask, columns };
  window.addEventListener('error', (e) => showError('The report failed: ' + e.message));
  main().catch((e) => { showError('The report could not load its data: ' + (e && e.message || e)); console.error(e); });
})();
