// /dash: the assessment report of the officer's unit (admins: every unit) as figures, charts
// and a table; drill down district -> town -> village -> grid -> worker by clicking a row or
// a bar (the URL follows: ?unit=…&period=…, so Back works and a link can be shared); a
// period picker; CSV export through the API (UTF-8 with a BOM, for Excel). Scope is the
// service's: a unit outside the officer's area answers 404 and the page says so.
import { api } from '../lib/api.js';
import { langSwitch, register, t } from '../lib/i18n.js';
import { boot, h, mount } from '../lib/ui.js';
import { disposeAll, draw } from './dash/charts.js';
import { PERIODS, day, range } from './dash/period.js';
import { STRINGS } from './dash/strings.js';
import './dash.css';

register(STRINGS);

const HOME = { grid: '/w', clerk: '/clerk' };
let seq = 0;

function readUrl() {
  const q = new URLSearchParams(window.location.search);
  const period = PERIODS.includes(q.get('period')) ? q.get('period') : '30d';
  return { unit: q.get('unit') || '', period, from: q.get('from') || '', to: q.get('to') || '' };
}

function urlFor(s) {
  const q = new URLSearchParams();
  if (s.unit) q.set('unit', s.unit);
  if (s.period !== '30d') q.set('period', s.period);
  if (s.period === 'custom') {
    q.set('from', s.from);
    q.set('to', s.to);
  }
  const qs = q.toString();
  return '/dash' + (qs ? '?' + qs : '');
}

function go(s, push = true) {
  if (push) window.history.pushState(null, '', urlFor(s));
  load(s);
}

const pct = (x) => (x === null || x === undefined ? '—' : `${Math.round(x * 100)}%`);

function dur(secs) {
  if (secs === null || secs === undefined) return '—';
  if (secs < 60) return t('dur.s', { n: Math.round(secs) });
  if (secs < 3600) return t('dur.m', { n: Math.round(secs / 60) });
  if (secs < 2 * 86400) return t('dur.h', { n: (secs / 3600).toFixed(1) });
  return t('dur.d', { n: (secs / 86400).toFixed(1) });
}

function rating(r) {
  if (r.mean_rating === null || r.mean_rating === undefined) {
    return h('span', { title: t('rating.few', { n: r.ratings }) }, '—',
      h('span', { class: 'sr-only' }, ' ' + t('rating.few', { n: r.ratings })));
  }
  return r.mean_rating.toFixed(2);
}

function rowName(r) {
  return r.name || r.unit || t('unassigned');
}

// ------------------------------------------------------------------ the controls
function periodForm(s) {
  const sel = h('select', { id: 'period', name: 'period' },
    PERIODS.map((p) => h('option', { value: p, selected: p === s.period }, t('period.' + p))));
  const from = h('input', { id: 'from', name: 'from', type: 'date', value: s.from });
  const to = h('input', { id: 'to', name: 'to', type: 'date', value: s.to });
  // a preset applies on change; a custom range needs both dates and the button
  const custom = h('div', { class: 'dash-custom' + (s.period === 'custom' ? '' : ' hidden') },
    h('div', {}, h('label', { for: 'from' }, t('period.from')), from),
    h('div', {}, h('label', { for: 'to' }, t('period.to')), to),
    h('div', { class: 'dash-apply' }, h('button', { type: 'submit', class: 'primary' }, t('period.apply'))));
  const err = h('p', { id: 'period-error', class: 'dash-error hidden', role: 'alert' });
  const form = h('form', { id: 'period-form', class: 'dash-period', novalidate: true },
    h('div', {}, h('label', { for: 'period' }, t('period.label')), sel), custom, err);
  sel.addEventListener('change', () => {
    custom.classList.toggle('hidden', sel.value !== 'custom');
    if (sel.value !== 'custom') form.requestSubmit();
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const next = { ...readUrl(), period: sel.value, from: from.value, to: to.value };
    const r = range(next.period, next.from, next.to);
    err.classList.toggle('hidden', !r.error);
    if (r.error) {
      err.textContent = t(r.error);
      return;
    }
    go(next);
  });
  return form;
}

function breadcrumb(path, s) {
  const items = [];
  const user = boot().user || {};
  if (user.role === 'admin') items.push({ id: '', name: t('all') });
  path.forEach((u) => items.push({ id: u.id, name: u.name || u.id, kind: u.kind }));
  return h('nav', { 'aria-label': t('bc.label'), class: 'dash-crumbs' },
    h('ol', {}, items.map((it, i) => h('li', {},
      i === items.length - 1
        ? h('span', { 'aria-current': 'page' }, it.name)
        : link({ ...s, unit: it.id }, it.name)))));
}

function link(s, text) {
  return h('a', {
    href: urlFor(s),
    onclick: (ev) => {
      if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button) return;
      ev.preventDefault();
      go(s);
    },
  }, text);
}

// ------------------------------------------------------------------ the report
function kpis(total) {
  if (!total) return null;
  const tile = (key, value, id) => h('div', { class: 'kpi', id },
    h('dt', {}, t(key)), h('dd', {}, value));
  return h('dl', { class: 'kpis', id: 'kpis' },
    tile('kpi.cases', String(total.cases), 'kpi-cases'),
    tile('kpi.sla', pct(total.sla_breach_rate === null ? null : 1 - total.sla_breach_rate), 'kpi-sla'),
    tile('kpi.confirmed', pct(total.confirmed_resolution_rate), 'kpi-confirmed'),
    tile('kpi.rating', rating(total), 'kpi-rating'),
    tile('kpi.coverage', pct(total.visit_coverage), 'kpi-coverage'),
    tile('kpi.resolve', dur(total.resolve_median_s), 'kpi-resolve'));
}

function table(rep, s) {
  const drill = rep.level !== 'worker' && rep.level === rep.child_level;
  const cols = [
    ['kpi.cases', (r) => String(r.cases)],
    ['kpi.accept', (r) => dur(r.accept_median_s)],
    ['kpi.resolve', (r) => dur(r.resolve_median_s)],
    ['kpi.sla', (r) => pct(r.sla_breach_rate === null ? null : 1 - r.sla_breach_rate)],
    ['kpi.claimed', (r) => pct(r.claimed_resolution_rate)],
    ['kpi.confirmed', (r) => pct(r.confirmed_resolution_rate)],
    ['kpi.reopen', (r) => pct(r.reopen_rate)],
    ['kpi.ratings', (r) => String(r.ratings)],
    ['kpi.rating', rating],
    ['kpi.coverage', (r) => pct(r.visit_coverage)],
    ['kpi.households', (r) => `${r.households} (${r.households_visited})`],
  ];
  const caption = t('table.caption', { level: t('level.' + rep.level) });
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption },
    h('table', { id: 'report-table', class: 'dash-table' },
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('table.name')),
        cols.map(([k]) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, rep.rows.map((r) => h('tr', { dataset: { unit: r.unit || '' } },
        h('th', { scope: 'row' }, drill && r.unit ? link({ ...s, unit: r.unit }, rowName(r)) : rowName(r)),
        cols.map(([, f]) => h('td', {}, f(r))))))));
}

function charts(rep, s) {
  const rows = rep.rows;
  const names = rows.map(rowName);
  const drill = rep.level !== 'worker' && rep.level === rep.child_level;
  const onPick = drill ? (i) => rows[i].unit && go({ ...s, unit: rows[i].unit }) : null;
  const figs = [['state', 'chart.state'], ['rates', 'chart.rates'], ['rating', 'chart.rating']];
  const boxes = figs.map(([kind, title]) => {
    const el = h('div', { class: 'chart', id: 'chart-' + kind });
    const sec = h('section', { class: 'card dash-chart', 'aria-labelledby': 'h-' + kind },
      h('h2', { id: 'h-' + kind }, title ? t(title) : ''), el,
      kind === 'rating' ? h('p', { class: 'muted small' }, t('rating.note')) : null);
    return { kind, el, sec };
  });
  // drawn once the boxes are in the document (ECharts measures them)
  const paint = () => boxes.forEach((b) => draw(b.kind, b.el, b.kind, rows, names, { t, onPick }));
  return { nodes: boxes.map((b) => b.sec), paint, hint: drill ? t('chart.hint') : '' };
}

function report(rep, s) {
  const view = document.getElementById('view');
  const csv = `/api/v1/reports?${new URLSearchParams({
    ...(s.unit ? { unit: s.unit } : {}), since: rep.since, until: rep.until, format: 'csv',
  })}`;
  const shown = t('period.shown', { from: day(rep.since), to: day(rep.until - 1) });
  disposeAll();
  const parts = [
    breadcrumb(rep.path, s),
    h('p', { class: 'row dash-meta' }, h('span', { id: 'period-shown' }, shown),
      h('a', { class: 'button', id: 'csv', href: csv, download: '' }, t('csv'))),
    kpis(rep.total),
  ];
  if (!rep.rows.length) {
    view.replaceChildren(...parts.filter(Boolean), h('p', { class: 'card' }, t('empty')));
    return;
  }
  const c = charts(rep, s);
  view.replaceChildren(...parts.filter(Boolean),
    c.hint ? h('p', { class: 'muted small' }, c.hint) : '',
    h('div', { class: 'dash-charts' }, c.nodes), table(rep, s));
  c.paint();
}

function failure(e, s) {
  const view = document.getElementById('view');
  disposeAll();
  if (e.status === 401) {
    window.location.assign('/login?next=' + encodeURIComponent(urlFor(s)));
    return;
  }
  const role = (boot().user || {}).role;
  let msg = t('err.other', { detail: e.detail || e.message });
  let next = h('button', { type: 'button', onclick: () => load(s) }, t('retry'));
  if (e.status === 404) {
    msg = t('err.notfound');
    next = link({ ...s, unit: '' }, t('back'));
  } else if (e.status === 403) {
    msg = t('err.role');
    next = h('a', { href: HOME[role] || '/login' }, t('home'));
  } else if (e.status === 0) msg = t('err.network');
  view.replaceChildren(h('div', { class: 'card notice-bad', role: 'alert', id: 'dash-error' },
    h('p', {}, msg), next));
}

async function load(s) {
  const mine = ++seq;
  const status = document.getElementById('status');
  const r = range(s.period, s.from, s.to);
  status.textContent = t('loading');
  const q = new URLSearchParams({ ...(s.unit ? { unit: s.unit } : {}) });
  if (!r.error) {
    q.set('since', r.since);
    q.set('until', r.until);
  }
  try {
    const rep = await api('reports?' + q);
    if (mine !== seq) return;
    report(rep, s);
    status.textContent = '';
  } catch (e) {
    if (mine !== seq) return;
    status.textContent = '';
    failure(e, s);
  }
}

async function logout() {
  try {
    await api('auth/logout', { method: 'POST' });
  } finally {
    window.location.assign('/login');
  }
}

function start() {
  const s = readUrl();
  const user = boot().user || {};
  mount(
    h('header', { class: 'topbar dash-top' }, h('span', { class: 'brand' }, t('brand')),
      h('span', { class: 'dash-who' },
        h('span', { class: 'muted small dash-name' }, user.display_name || user.username || ''),
        h('button', { type: 'button', class: 'link', onclick: logout }, t('logout')), langSwitch())),
    h('h1', {}, t('title')),
    periodForm(s),
    h('p', { id: 'status', class: 'muted small', role: 'status', 'aria-live': 'polite' }),
    h('div', { id: 'view' }),
  );
  window.addEventListener('popstate', () => {
    const now = readUrl();
    document.getElementById('period').value = now.period;
    load(now);
  });
  load(s);
}

start();
