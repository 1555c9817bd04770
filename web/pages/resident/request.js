// 我要办事: one form per case type (proxy, dispute, hazard with severity, other), optional photo.
import { api } from '../../lib/api.js';
import { t } from '../../lib/i18n.js';
import { h, toast } from '../../lib/ui.js';

const TYPES = ['proxy', 'dispute', 'hazard', 'other'];
const SEVERITIES = ['low', 'medium', 'high', 'critical'];

function field(id, label, input) {
  return [h('label', { for: id }, label), input];
}

function typeFields(type) {
  if (type === 'proxy') return field('f-service', t('f.service'), h('input', { id: 'f-service', maxlength: 200 }));
  if (type === 'dispute') {
    return field('f-parties', t('f.parties'), h('input', { id: 'f-parties', required: true, maxlength: 1000 }));
  }
  if (type === 'hazard') {
    const sev = h('fieldset', { id: 'f-severity' }, h('legend', {}, t('f.severity')),
      SEVERITIES.map((s, i) => h('label', { class: 'choice' },
        h('input', { type: 'radio', name: 'severity', value: s, checked: i === 1 }), t('sev.' + s))));
    return [sev, ...field('f-location', t('f.location'), h('input', { id: 'f-location', maxlength: 200 }))];
  }
  return [];
}

function details(form, type) {
  const v = (id) => (form.querySelector('#' + id) || { value: '' }).value.trim();
  if (type === 'proxy') return v('f-service') ? { service: v('f-service') } : {};
  if (type === 'dispute') return { parties: v('f-parties') };
  if (type === 'hazard') {
    const d = { severity: form.querySelector('input[name=severity]:checked').value };
    if (v('f-location')) d.location = v('f-location');
    return d;
  }
  return {};
}

async function send(form, type, btn, onSent) {
  btn.disabled = true;
  btn.textContent = t('f.sending');
  try {
    const c = await api('household/cases', { body: {
      type, title: form.querySelector('#f-title').value.trim(),
      description: form.querySelector('#f-description').value.trim(), details: details(form, type),
    } });
    const file = form.querySelector('#f-photo').files[0];
    let msg = t('f.sent', { id: c.id });
    if (file) {
      const fd = new FormData();
      fd.append('photo', file, file.name || 'photo.jpg');
      try {
        await api(`household/cases/${c.id}/photos`, { form: fd });
      } catch (e) {
        msg = t('f.photo_failed', { why: e.detail || e.message });
      }
    }
    onSent(c, msg);
  } catch (e) {
    toast(t('f.failed', { why: e.detail || e.message }), { error: true });
    btn.disabled = false;
    btn.textContent = t('f.submit');
  }
}

function requestForm(type, close, onSent) {
  const btn = h('button', { type: 'submit', class: 'primary', id: 'f-submit' }, t('f.submit'));
  const form = h('form', { id: 'request-form', class: 'card', dataset: { type } },
    h('h3', {}, t('do.' + type)),
    field('f-title', t('f.title'), h('input', { id: 'f-title', required: true, maxlength: 200 })),
    field('f-description', t('f.description'), h('textarea', { id: 'f-description', maxlength: 4000 })),
    typeFields(type),
    field('f-photo', t('f.photo'), h('input', { id: 'f-photo', type: 'file', accept: 'image/*', capture: 'environment' })),
    h('p', { class: 'row' }, btn, h('button', { type: 'button', onclick: close }, t('f.cancel'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!form.reportValidity()) return;
    send(form, type, btn, onSent);
  });
  return form;
}

/** The 我要办事 section; onSent(case, message) after a request is filed. */
export function requestSection(onSent) {
  const slot = h('div', { id: 'request-slot' });
  const close = () => slot.replaceChildren();
  const buttons = h('div', { class: 'row', id: 'request-types' }, TYPES.map((type) =>
    h('button', { type: 'button', id: 'do-' + type, onclick: () => {
      slot.replaceChildren(requestForm(type, close, (c, msg) => { close(); onSent(c, msg); }));
      slot.querySelector('#f-title').focus();
    } }, t('do.' + type))));
  return h('section', { 'aria-labelledby': 'do-title' }, h('h2', { id: 'do-title' }, t('do.title')), buttons, slot);
}
