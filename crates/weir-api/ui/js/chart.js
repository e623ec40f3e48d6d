// Daily trend chart: stacked SVG bars per day — succeeded at the bottom, then
// partial (finished with per-record errors: not a success), failed on top.
//
// Hand-written on purpose: it is a ~100-line stacked-bar chart, so vendoring
// a charting library would add far more code than it saves, and building
// the SVG with createElementNS + setAttribute (classes for colours, no
// inline styles, no eval) keeps the strict Content-Security-Policy intact.

import { h } from './dom.js';

const NS = 'http://www.w3.org/2000/svg';
const PAD = { top: 16, right: 12, bottom: 40, left: 44 };

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  for (const c of children) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
  return el;
}

/** Axis step for 4 grid intervals: 1, 2, 2.5 or 5 × 10^n (whole numbers only). */
function niceStep(max) {
  const raw = Math.max(1, max / 4);
  const pow = 10 ** Math.floor(Math.log10(raw));
  const factors = pow >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10];
  return factors.map((f) => f * pow).find((v) => v >= raw);
}

let chartSeq = 0;

/**
 * trends: [{date, total, succeeded, partial, failed, records_processed}], one per day.
 * Returns a <figure> with the SVG and a legend (sized for the screen at render time).
 */
export function trendChart(trends) {
  // Narrow screens get a narrower drawing, so labels stay readable when scaled.
  const narrow = window.matchMedia('(max-width: 720px)').matches;
  const W = narrow ? 400 : 960;
  const H = narrow ? 240 : 260;
  const days = trends.map((t) => ({
    date: String(t.date ?? ''),
    ok: Number(t.succeeded) || 0,
    partial: Number(t.partial) || 0,
    bad: Number(t.failed) || 0,
    total: Number(t.total) || 0,
  }));
  const step = niceStep(Math.max(0, ...days.map((d) => d.ok + d.partial + d.bad)));
  const max = step * 4;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, Math.min(40, slot * 0.7));
  const y = (v) => PAD.top + plotH - (v / max) * plotH;

  const sumOk = days.reduce((s, d) => s + d.ok, 0);
  const sumPartial = days.reduce((s, d) => s + d.partial, 0);
  const sumBad = days.reduce((s, d) => s + d.bad, 0);
  const id = `chart-${++chartSeq}`;
  const first = days[0]?.date ?? '';
  const last = days[days.length - 1]?.date ?? '';

  const root = svg('svg', {
    class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-title ${id}-desc`,
    preserveAspectRatio: 'xMidYMid meet',
  },
  svg('title', { id: `${id}-title` }, 'Sync runs per day'),
  svg('desc', { id: `${id}-desc` }, `${days.length} days from ${first} to ${last}: ${sumOk} succeeded, ${sumPartial} partial, ${sumBad} failed.`));

  // Five horizontal grid lines with whole-number y-axis labels.
  for (let i = 0; i <= 4; i++) {
    const v = step * i;
    root.appendChild(svg('line', { class: 'chart-grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
    root.appendChild(svg('text', { class: 'chart-label', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' },
      String(v)));
  }

  // At most ~12 (narrow: 5) date labels so they never overlap.
  const every = Math.ceil(days.length / (narrow ? 5 : 12));
  days.forEach((d, i) => {
    const x = PAD.left + slot * i + (slot - barW) / 2;
    const bar = svg('g', { class: 'chart-bar' },
      svg('title', {}, `${d.date}: ${d.ok} succeeded, ${d.partial} partial, ${d.bad} failed (${d.total} runs)`));
    // Bottom to top: succeeded, partial, failed.
    let base = 0;
    for (const [cls, n] of [['bar-ok', d.ok], ['bar-partial', d.partial], ['bar-bad', d.bad]]) {
      if (n > 0) bar.appendChild(svg('rect', { class: cls, x, width: barW, y: y(base + n), height: y(base) - y(base + n) }));
      base += n;
    }
    // Transparent full-height hit area so the tooltip works on empty days too.
    bar.appendChild(svg('rect', { class: 'bar-hit', x: PAD.left + slot * i, width: slot, y: PAD.top, height: plotH }));
    root.appendChild(bar);
    if (i % every === 0) {
      root.appendChild(svg('text', { class: 'chart-label', x: x + barW / 2, y: H - PAD.bottom + 16, 'text-anchor': 'middle' },
        d.date.slice(5)));
    }
  });
  root.appendChild(svg('line', { class: 'chart-axis', x1: PAD.left, x2: W - PAD.right, y1: y(0), y2: y(0) }));
  root.appendChild(svg('text', { class: 'chart-label', x: PAD.left + plotW / 2, y: H - 6, 'text-anchor': 'middle' },
    'Day (UTC, month-day)'));

  return h('figure', { class: 'chart-figure' },
    root,
    h('figcaption', { class: 'legend' },
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-ok', 'aria-hidden': 'true' }), `Succeeded (${sumOk})`),
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-partial', 'aria-hidden': 'true' }), `Partial (${sumPartial})`),
      h('span', { class: 'legend-item' }, h('span', { class: 'swatch swatch-bad', 'aria-hidden': 'true' }), `Failed (${sumBad})`)));
}
