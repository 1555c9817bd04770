// The household's own cases (needs the PIN): status, timeline, and rating a resolved one.
import { api } from '../../lib/api.js';
import { t } from '../../lib/i18n.js';
import { fmtTime, h, toast } from '../../lib/ui.js';

const BADGE = { closed_confirmed: 'ok', resolved: 'warn', rejected: 'bad', closed_unconfirmed: 'bad' };
const OPEN = ['submitted', 'accepted', 'in_progress', 'waiting_on_resident'];

/** The state as the household should read it: a closed-without-handling case says why. */
function stateLabel(c) {
  return c.state === 'rejected' && c.reject_reason ? t('reject.' + c.reject_reason) : t('state.' + c.state);
}

/** Withdraw an open request: the first tap asks, the second (on the red button) does it. */
function withdrawControl(c, onDone) {
  const ask = h('button', { type: 'button', id: `withdraw-${c.id}` }, t('withdraw.ask'));
  const yes = h('button', { type: 'button', class: 'danger hidden', id: `withdraw-yes-${c.id}` }, t('withdraw.yes'));
  ask.addEventListener('click', () => { ask.classList.add('hidden'); yes.classList.remove('hidden'); yes.focus(); });
  yes.addEventListener('click', async () => {
    yes.disabled = true;
    try {
      await api(`household/cases/${c.id}/withdraw`, { method: 'POST' });
      toast(t('withdraw.done'));
      onDone();
    } catch (e) {
      yes.disabled = false;
      toast(t('error.generic', { why: e.detail || e.message }), { error: true });
    }
  });
  return h('p', { class: 'row' }, ask, yes);
}

function pinForm(onOk) {
  const input = h('input', { id: 'pin', inputmode: 'numeric', autocomplete: 'off', required: true, maxlength: 32 });
  const err = h('p', { id: 'pin-error', class: 'hidden', role: 'alert' });
  const form = h('form', { id: 'pin-form', class: 'card' },
    h('p', {}, t('pin.text')), h('label', { for: 'pin' }, t('pin.label')), input,
    h('p', {}, h('button', { type: 'submit', class: 'primary', id: 'pin-submit' }, t('pin.submit'))), err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await api('households/session/pin', { body: { pin: input.value.trim() } });
      onOk();
    } catch (e) {
      err.textContent = e.status === 429 ? t('pin.busy') : t('pin.wrong');
      err.classList.remove('hidden');
      input.value = '';
      input.focus();
    }
  });
  return form;
}

function rateForm(c, onDone) {
  const stars = h('fieldset', {}, h('legend', {}, t('rate.score')), h('div', { class: 'row' },
    [1, 2, 3, 4, 5].map((n) => h('label', { class: 'choice' },
      h('input', { type: 'radio', name: `rating-${c.id}`, value: n, checked: n === 5 }), String(n)))));
  const solved = h('fieldset', {}, h('legend', {}, t('rate.title')),
    h('label', { class: 'choice' }, h('input', { type: 'radio', name: `solved-${c.id}`, value: 'yes', checked: true }), t('rate.solved')),
    h('label', { class: 'choice' }, h('input', { type: 'radio', name: `solved-${c.id}`, value: 'no', id: `unsolved-${c.id}` }), t('rate.unsolved')));
  const form = h('form', { class: 'rate-form', id: `rate-${c.id}` }, stars, solved,
    h('button', { type: 'submit', class: 'primary' }, t('rate.submit')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const rating = Number(form.querySelector(`input[name=rating-${c.id}]:checked`).value);
    const ok = form.querySelector(`input[name=solved-${c.id}]:checked`).value === 'yes';
    try {
      await api(`household/cases/${c.id}/rate`, { body: { rating, solved: ok } });
      toast(ok ? t('rate.thanks') : t('rate.reopened'));
      onDone();
    } catch (e) {
      toast(t('error.generic', { why: e.detail || e.message }), { error: true });
    }
  });
  return form;
}

async function timeline(c, box, btn) {
  if (!box.classList.contains('hidden')) {
    box.classList.add('hidden');
    btn.textContent = t('case.details');
    return;
  }
  try {
    const full = await api(`household/cases/${c.id}`);
    box.replaceChildren(...[h('h4', {}, t('case.timeline')), h('ol', { class: 'timeline' },
      full.timeline.map((e) => h('li', {}, h('span', { class: 'small muted' }, fmtTime(e.at)), ' ',
        e.state ? t('state.' + e.state) : e.kind))),
    gallery(full.photos, `photos-${c.id}`, t('case.photos')),
    gallery(full.evidence, `evidence-${c.id}`, t('case.evidence'))].flat().filter(Boolean));
    box.classList.remove('hidden');
    btn.textContent = t('case.hide');
  } catch (e) {
    toast(t('error.generic', { why: e.detail || e.message }), { error: true });
  }
}

/** The photos the household added, or the worker's photos of the fix (none: nothing). */
function gallery(urls, id, title) {
  if (!urls || !urls.length) return null;
  return [h('h4', {}, title), h('div', { class: 'photos', id }, urls.map((src, i) =>
    h('a', { href: src, target: '_blank', rel: 'noopener' }, h('img', { src, alt: `${title} ${i + 1}`, loading: 'lazy' }))))];
}

function caseCard(c, reload) {
  const box = h('div', { class: 'hidden', id: `timeline-${c.id}` });
  const btn = h('button', { type: 'button', 'aria-controls': `timeline-${c.id}` }, t('case.details'));
  btn.addEventListener('click', () => timeline(c, box, btn));
  return h('li', { class: 'card', id: `case-${c.id}`, dataset: { state: c.state } },
    h('h3', {}, `#${c.id} ${c.title}`),
    h('p', { class: 'row' }, h('span', { class: 'badge ' + (BADGE[c.state] || '') }, stateLabel(c)),
      h('span', { class: 'small muted' }, t('type.' + c.type) + ' · ' + fmtTime(c.created_at))),
    c.resolution_note ? h('p', { class: 'small' }, c.resolution_note) : null,
    c.state === 'resolved' ? rateForm(c, reload) : null,
    OPEN.includes(c.state) ? withdrawControl(c, reload) : null,
    btn, box);
}

/** The section's contents for a chip-only session (a PIN prompt) or a PIN session (the list). */
export async function casesSection(page, reload) {
  const sec = h('section', { id: 'cases', 'aria-labelledby': 'cases-title' }, h('h2', { id: 'cases-title' }, t('cases.title')));
  if (page.credential !== 'household') {
    sec.append(pinForm(reload));
    return sec;
  }
  const list = await api('household/cases');
  sec.append(list.length
    ? h('ul', { class: 'plain', id: 'case-list' }, list.map((c) => caseCard(c, reload)))
    : h('p', { class: 'muted', id: 'case-list-empty' }, t('cases.none')));
  return sec;
}
