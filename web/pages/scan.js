// /scan: the resident's own scanner (snowflake and QR plates) -> the household page.
import { t } from '../lib/i18n.js';
import { h, mount } from '../lib/ui.js';
import { scanPrompt, topbar } from './resident/common.js';
import './resident/strings.js';
import './scan.css';

function refused(reason) {
  mount(topbar(), scanPrompt('refused.title', 'refused.' + reason, true));
}

const slot = h('div', { id: 'scanner' });
const status = h('p', { id: 'scan-status', class: 'muted' }, t('scan.reading'));
mount(
  topbar(),
  h('h1', {}, t('scan.title')),
  h('p', {}, t('scan.intro')),
  slot,
  status,
  h('p', { class: 'small' }, h('a', { href: '/login' }, t('staff'))),
);

import('../lib/scanner.js').then(({ openScanner }) => {
  status.classList.add('hidden');
  openScanner(slot, {
    purpose: 'household',
    onChip: () => {
      status.textContent = t('scan.opened');
      status.classList.remove('hidden');
      window.location.assign('/h');
    },
    onRefused: (reason) => refused(reason === 'unknown_key' ? 'invalid' : reason),
  });
});
