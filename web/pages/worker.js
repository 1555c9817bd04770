// The grid worker's pages: /w (my queue by SLA deadline + my visit coverage this month),
// /w/cases/{id} (web/lib/worker-case.js), /w/checkin (web/lib/worker-checkin.js).
// Everything comes from the API, which enforces the worker's scope; the boot data only says
// which view and who is logged in.
import './worker.css';
import { api } from '../lib/api.js';
import { register, t } from '../lib/i18n.js';
import { boot, h, mount } from '../lib/ui.js';
import { showCase } from '../lib/worker-case.js';
import { showCheckin } from '../lib/worker-checkin.js';
import { dueBadge, errorText, stateBadge, topbar } from '../lib/worker-common.js';

register({
  'zh-CN': {
    'q.title': '我的待办', 'q.empty': '暂无待办事项。', 'q.count': '共 {n} 件，按办理时限排序，超时的在前',
    'cov.title': '本月走访覆盖', 'cov.text': '已走访 {v} / {n} 户', 'cov.none': '本网格暂无登记住户',
    'cov.label': '本月走访覆盖率',
    'refused.case': '无法打开此事项：它不存在，或不属于您的网格。', 'refused.role': '此页面供网格员使用。',
    'refused.title': '无法打开', 'refused.back': '返回我的待办', 'refused.login': '换个账号登录', 'loading': '正在加载…',
  },
  en: {
    'q.title': 'My queue', 'q.empty': 'Nothing to do right now.', 'q.count': '{n} cases, soonest deadline first (overdue on top)',
    'cov.title': 'Visits this month', 'cov.text': '{v} of {n} households visited', 'cov.none': 'No households registered in this grid',
    'cov.label': 'Visit coverage this month',
    'refused.case': 'This case cannot be opened: it does not exist or is not in your grid.',
    'refused.title': 'Not available', 'refused.role': 'This page is for grid workers.', 'refused.back': 'Back to my queue',
    'refused.login': 'Log in with another account', 'loading': 'Loading…',
  },
});

function caseCard(c) {
  const hh = c.household || {};
  return h('li', { class: 'qcase', dataset: { caseId: String(c.id) } },
    h('a', { href: '/w/cases/' + c.id, class: 'qcase-link' },
      h('span', { class: 'qcase-title' }, '#' + c.id + ' ', c.title),
      h('span', { class: 'qcase-meta muted small' }, t('type.' + c.type), ' · ', hh.address || c.household_id),
      h('span', { class: 'row' }, stateBadge(c.state), dueBadge(c.due),
        c.reopen_count > 0 ? h('span', { class: 'badge bad reopened' }, t('reopened', { n: c.reopen_count })) : null)));
}

function coverageCard(cov) {
  if (!cov) return null;
  const pct = cov.coverage === null ? null : Math.round(cov.coverage * 100);
  return h('section', { class: 'card coverage', 'aria-labelledby': 'cov-h' },
    h('h2', { id: 'cov-h' }, t('cov.title'), ' ', h('span', { class: 'muted small' }, cov.month)),
    cov.households
      ? [h('progress', { max: String(cov.households), value: String(cov.visited), 'aria-label': t('cov.label') }),
        h('p', { id: 'coverage-text' }, t('cov.text', { v: cov.visited, n: cov.households }), pct === null ? '' : ` (${pct}%)`)]
      : h('p', {}, t('cov.none')));
}

async function showQueue() {
  mount(...topbar('queue'), h('p', { class: 'muted' }, t('loading')));
  try {
    const me = boot().me || {};
    const [q, cov] = await Promise.all([
      api('worker/queue'),
      me.role === 'grid' ? api('worker/coverage') : Promise.resolve(null),
    ]);
    const list = q.cases.length
      ? h('ol', { class: 'queue', id: 'queue' }, q.cases.map(caseCard))
      : h('p', { id: 'queue-empty', class: 'card' }, t('q.empty'));
    mount(...topbar('queue'), h('h1', {}, t('q.title')),
      q.cases.length ? h('p', { class: 'muted small' }, t('q.count', { n: q.cases.length })) : null,
      list, coverageCard(cov));
  } catch (e) {
    if (e.status === 401) window.location.assign('/login?next=/w');
    else mount(...topbar('queue'), h('p', { class: 'card notice-bad', role: 'alert' }, errorText(e)));
  }
}

function showRefused() {
  const b = boot();
  const role = b.reason === 'role';
  mount(...(role ? [] : topbar('')), h('h1', {}, t('refused.title')),
    h('p', { class: 'card notice-bad', id: 'refused', role: 'alert' }, t(role ? 'refused.role' : 'refused.case')),
    h('p', {}, role ? h('a', { href: '/login' }, t('refused.login')) : h('a', { href: '/w' }, t('refused.back'))));
}

const view = boot().view;
if (view === 'case') showCase(boot().case_id);
else if (view === 'checkin') showCheckin();
else if (view === 'refused') showRefused();
else showQueue();
