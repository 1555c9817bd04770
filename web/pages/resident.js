// Resident pages: the household page (/h) and the refused-chip page (/c/<digits> refused).
import { api } from '../lib/api.js';
import { t } from '../lib/i18n.js';
import { boot, fmtTime, h, mount, toast } from '../lib/ui.js';
import { casesSection } from './resident/cases.js';
import { scanPrompt, topbar } from './resident/common.js';
import { requestSection } from './resident/request.js';
import './resident/strings.js';
import './resident.css';

function workerCard(w) {
  if (!w) return h('div', { class: 'card' }, t('noworker'));
  return h('div', { class: 'card', id: 'worker' },
    h('div', { class: 'small muted' }, t('worker')),
    h('div', { class: 'worker-name' }, w.name),
    w.phone ? h('a', { class: 'button primary', id: 'call', href: 'tel:' + w.phone.replace(/[^\d+]/g, '') },
      t('call', { phone: w.phone })) : null);
}

function notices(list) {
  return h('section', { 'aria-labelledby': 'notices-title' }, h('h2', { id: 'notices-title' }, t('notices')),
    list.length ? h('ul', { class: 'plain', id: 'notices' }, list.map((n) => h('li', { class: 'card' },
      h('h3', {}, n.title), h('p', {}, n.body), h('p', { class: 'small muted' }, fmtTime(n.posted_at)))))
      : h('p', { class: 'muted' }, t('nonotices')));
}

async function household() {
  let page;
  try {
    page = await api('household');
  } catch (e) {
    if (e.status === 401 || e.status === 403) return mount(topbar(), scanPrompt('none.title', 'none.text', false));
    return mount(topbar(), h('p', { role: 'alert' }, t('error.generic', { why: e.detail || e.message })));
  }
  const reload = () => household();
  const cases = await casesSection(page, reload).catch((e) => h('p', { role: 'alert' }, t('error.generic', { why: e.detail || e.message })));
  mount(
    topbar(),
    h('h1', { id: 'place' }, `${page.village.name} · ${page.grid.name}`),
    workerCard(page.worker),
    requestSection((c, msg) => {
      toast(msg);
      const note = h('p', { class: 'card notice-ok', id: 'sent', role: 'status' }, msg);
      household().then(() => document.getElementById('request-slot').before(note));
    }),
    cases,
    notices(page.notices),
  );
}

const b = boot();
if (b.view === 'refused') mount(topbar(), scanPrompt('refused.title', 'refused.' + (b.reason || 'invalid'), true));
else household();
