// The dashboard's charts, drawn by ECharts (tree-shaken: the core, bar charts and the few
// components used, canvas renderer). One chart per figure, one bar per child unit; clicking
// a bar drills down to that unit. Instances are kept so a re-render disposes them and tests
// can read what was drawn (window.chipkitDash.charts()).
import { BarChart } from 'echarts/charts';
import { AriaComponent, GridComponent, LegendComponent, TooltipComponent } from 'echarts/components';
import { init, use } from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';

use([BarChart, GridComponent, TooltipComponent, LegendComponent, AriaComponent, CanvasRenderer]);

export const STATES = ['submitted', 'accepted', 'in_progress', 'waiting_on_resident', 'resolved',
  'closed_confirmed', 'closed_unconfirmed', 'rejected'];
// colour-blind-safe, dark enough for white-background contrast
const STATE_COLORS = ['#6b7280', '#0b5cad', '#1d8fe1', '#b7791f', '#7c3aed', '#17663a',
  '#65a30d', '#b00020'];
const RATE_COLORS = ['#0b5cad', '#17663a', '#b7791f'];

const live = new Map();
let observer = null;

window.chipkitDash = {
  /** [{id, series: [{name, data}]}] of the charts on screen (read by the browser tests). */
  charts: () => [...live.entries()].map(([id, c]) => ({
    id,
    width: c.getWidth(),
    height: c.getHeight(),
    series: (c.getOption().series || []).map((s) => ({ name: s.name, data: s.data })),
  })),
  /** [x, y] in the chart's box of the middle of bar `dataIndex` of series `seriesIndex`. */
  point: (id, seriesIndex, dataIndex) => {
    const c = live.get(id);
    const v = c.getOption().series[seriesIndex].data[dataIndex];
    return c.convertToPixel({ seriesIndex }, [(Number(v) || 0) / 2, dataIndex]);
  },
};

function pct(x) {
  return x === null || x === undefined ? null : Math.round(x * 1000) / 10;
}

function base(names) {
  return {
    aria: { enabled: true, decal: { show: false } },
    animation: false,
    grid: { left: 8, right: 28, top: 8, bottom: 8, containLabel: true },
    // drawn on the canvas: an HTML tooltip would carry style attributes the CSP blocks
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true, renderMode: 'richText' },
    yAxis: {
      type: 'category', data: names, inverse: true,
      axisLabel: { width: 96, overflow: 'truncate', color: '#1a1a1a' },
    },
    textStyle: { fontFamily: 'system-ui, "WenQuanYi Micro Hei", "Noto Sans CJK SC", sans-serif' },
  };
}

// one scrolling line above the bars (a wrapped legend would run into the axis on a phone)
function legend() {
  return { type: 'scroll', top: 0, left: 0, right: 0, textStyle: { color: '#1a1a1a' },
    pageTextStyle: { color: '#1a1a1a' } };
}

function byState(rows, names, t) {
  const used = STATES.filter((s) => rows.some((r) => (r.by_state || {})[s]));
  const o = base(names);
  o.legend = legend();
  o.grid.top = 36;
  o.xAxis = { type: 'value', minInterval: 1, splitNumber: 4, axisLabel: { color: '#1a1a1a' } };
  o.series = used.map((s) => ({
    name: t('state.' + s), type: 'bar', stack: 'cases', color: STATE_COLORS[STATES.indexOf(s)],
    data: rows.map((r) => (r.by_state || {})[s] || 0),
  }));
  return o;
}

function rates(rows, names, t) {
  const o = base(names);
  o.legend = legend();
  o.grid.top = 36;
  o.xAxis = { type: 'value', min: 0, max: 100, interval: 25,
    axisLabel: { formatter: '{value}%', color: '#1a1a1a', hideOverlap: true } };
  o.tooltip.valueFormatter = (v) => (v === null || v === undefined || v === '-' ? '—' : v + '%');
  const fig = [
    ['kpi.sla', (r) => (r.sla_breach_rate === null ? null : 1 - r.sla_breach_rate)],
    ['kpi.confirmed', (r) => r.confirmed_resolution_rate],
    ['kpi.coverage', (r) => r.visit_coverage],
  ];
  o.series = fig.map(([key, get], i) => ({
    name: t(key), type: 'bar', color: RATE_COLORS[i], data: rows.map((r) => pct(get(r))),
  }));
  return o;
}

function ratings(rows, names, t) {
  const o = base(names);
  o.xAxis = { type: 'value', min: 0, max: 5, interval: 1, axisLabel: { color: '#1a1a1a' } };
  o.tooltip.formatter = (ps) => {
    const r = rows[ps[0].dataIndex];
    const v = r.mean_rating === null ? t('rating.few', { n: r.ratings }) : r.mean_rating.toFixed(2);
    return `${ps[0].name}: ${v}`;
  };
  o.series = [{
    name: t('kpi.rating'), type: 'bar', color: '#b7791f',
    label: { show: true, position: 'right', color: '#1a1a1a',
      formatter: (p) => (rows[p.dataIndex].mean_rating === null ? '—' : p.value.toFixed(2)) },
    // hidden means (fewer than 5 ratings) are a zero-length bar labelled "—"
    data: rows.map((r) => (r.mean_rating === null ? 0 : r.mean_rating)),
  }];
  return o;
}

export const FIGURES = { state: byState, rates, rating: ratings };

// px per bar row, and around the bars (legend, axis)
const SIZE = { state: [34, 72], rates: [56, 72], rating: [34, 40] };

function height(n, kind) {
  const [per, extra] = SIZE[kind];
  return Math.max(160, per * n + extra) + 'px';
}

/** Draw the figure `kind` of `rows` into `el`; onPick(rowIndex) when a bar is clicked. */
export function draw(id, el, kind, rows, names, { t, onPick }) {
  dispose(id);
  el.style.height = height(rows.length, kind);
  const chart = init(el, null, { renderer: 'canvas' });
  const opt = FIGURES[kind](rows, names, t);
  chart.setOption(opt);
  chart.on('click', (p) => {
    if (p.componentType === 'series' && onPick) onPick(p.dataIndex);
  });
  live.set(id, chart);
  if (!observer && 'ResizeObserver' in window) {
    observer = new ResizeObserver(() => live.forEach((c) => c.resize()));
  }
  if (observer) observer.observe(el);
  return chart;
}

export function dispose(id) {
  const c = live.get(id);
  if (c) {
    if (observer) observer.unobserve(c.getDom());
    c.dispose();
    live.delete(id);
  }
}

export function disposeAll() {
  [...live.keys()].forEach(dispose);
}
