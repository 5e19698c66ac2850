import { h, s } from './dom.js';

export interface Series {
  label: string;
  /** CSS class that colours the bars (see app.css .series-*). */
  className: string;
  values: Array<number | null>;
}

/** A "nice" axis maximum for counts: 1, 2, 4, 6, 8 × 10^n at or above `v` (even, so the middle tick is whole). */
export function niceMax(v: number): number {
  if (v <= 1) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 4, 6, 8, 10]) if (m * p >= v && (m * p) % 2 === 0) return m * p;
  return 10 * p;
}

/**
 * Grouped bars per day, drawn as SVG (scales with its box via viewBox). Labels are text nodes, so
 * nothing from the server can become markup.
 */
export function barChart(opts: { labels: string[]; series: Series[]; title: string }): HTMLElement {
  const W = 960;
  const H = 220;
  const pad = { l: 36, r: 8, t: 10, b: 28 };
  const n = opts.labels.length;
  const max = niceMax(Math.max(0, ...opts.series.flatMap((x) => x.values.map((v) => v ?? 0))));
  const plotW = W - pad.l - pad.r;
  const plotH = H - pad.t - pad.b;
  const slot = n > 0 ? plotW / n : plotW;
  const barW = Math.max(1, (slot * 0.75) / Math.max(1, opts.series.length));
  const y = (v: number) => pad.t + plotH - (v / max) * plotH;

  const ticks = max % 2 === 0 ? [0, max / 2, max] : [0, max];
  const grid = ticks.map((v) => {
    return s('g', null, s('line', { class: 'grid-line', x1: pad.l, x2: W - pad.r, y1: y(v), y2: y(v) }), s('text', { class: 'axis', x: pad.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, String(v)));
  });
  const bars = opts.series.flatMap((ser, si) =>
    ser.values.map((v, i) => {
      const val = v ?? 0;
      const x = pad.l + i * slot + (slot - barW * opts.series.length) / 2 + si * barW;
      return s('rect', { class: `bar ${ser.className}`, x: x.toFixed(1), y: y(val).toFixed(1), width: barW.toFixed(1), height: (pad.t + plotH - y(val)).toFixed(1) }, s('title', null, `${opts.labels[i] ?? ''} ${ser.label}: ${v === null ? '—' : v}`));
    }),
  );
  const step = n > 16 ? Math.ceil(n / 10) : 1;
  const xLabels = opts.labels.map((l, i) =>
    i % step === 0 || i === n - 1 ? s('text', { class: 'axis', x: (pad.l + i * slot + slot / 2).toFixed(1), y: H - 8, 'text-anchor': 'middle' }, l) : null,
  );
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': opts.title }, grid, bars, xLabels);
  const legend = h(
    'ul',
    { class: 'legend' },
    opts.series.map((ser) => h('li', null, h('span', { class: `swatch ${ser.className}`, 'aria-hidden': 'true' }), ser.label)),
  );
  return h('figure', { class: 'chart-box' }, svg, legend);
}
