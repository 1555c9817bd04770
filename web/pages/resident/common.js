// Pieces the resident pages share: the top bar and the "scan your plate" prompt.
import { langSwitch, t } from '../../lib/i18n.js';
import { h } from '../../lib/ui.js';

export function topbar() {
  return h('header', { class: 'topbar' }, h('a', { class: 'brand', href: '/h' }, t('brand')), langSwitch());
}

export function scanPrompt(titleKey, textKey, bad) {
  return [
    h('h1', {}, t(titleKey)),
    h('div', { class: 'card' + (bad ? ' notice-bad' : ''), id: 'message', role: bad ? 'alert' : null },
      h('p', {}, t(textKey))),
    h('p', {}, h('a', { class: 'button primary block', href: '/scan', id: 'scan-again' },
      t(bad ? 'refused.again' : 'none.scan'))),
    h('p', { class: 'small' }, h('a', { href: '/login' }, t('staff'))),
  ];
}
