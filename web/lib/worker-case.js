// /w/cases/{id}: one case (type, household, description, photos, timeline) and the actions
// its state allows this worker (the API's `actions`, computed by the cases library), each
// through /api/v1/cases/{id}/<action>; resolve takes a note and optional photo evidence.
import { api } from './api.js';
import { register, t } from './i18n.js';
import { fmtTime, h, mount, toast } from './ui.js';
import { dueBadge, errorText, stateBadge, topbar } from './worker-common.js';

register({
  'zh-CN': {
    back: '← 返回待办', household: '住户', description: '情况说明', details: '详细信息', photos: '办结照片', 'photos.asked': '居民上传的照片',
    timeline: '办理记录', actions: '办理', noactions: '您当前不能对此事项进行操作。',
    'd.severity': '严重程度', 'd.location': '位置', 'd.parties': '当事人', 'd.service': '代办事项', 'd.category': '类别',
    'a.accept': '受理', 'a.start': '开始办理', 'a.resume': '继续办理', 'a.wait': '等待居民…', 'a.resolve': '办结…',
    'a.transfer': '转交…', 'a.escalate': '上报…', 'a.reject': '驳回…',
    'f.note': '说明（必填）', 'f.resolution': '办理结果（必填）', 'f.photo': '现场照片（可选，可多张）',
    'f.to': '转交给', 'f.reason': '原因', 'f.rreason': '驳回原因', 'f.dup': '重复的事项编号',
    'r.duplicate': '重复事项', 'r.not_responsible': '不属于本网格职责', submit: '提交',
    'done.accept': '已受理', 'done.start': '已开始办理', 'done.resume': '已继续办理', 'done.wait': '已标记为等待居民',
    'done.resolve': '已办结，等待居民确认', 'done.transfer': '已转交', 'done.escalate': '已上报',
    'done.reject': '已驳回', 'resolution': '办理结果',
    'k.submit': '提交', 'k.accept': '受理', 'k.start': '开始办理', 'k.wait': '等待居民', 'k.resume': '继续办理',
    'k.resolve': '办结', 'k.confirm': '居民确认已解决', 'k.reopen': '居民评价：未解决，重新办理',
    'k.transfer': '转交', 'k.escalate': '上报', 'k.reject': '驳回', 'k.expire': '评价期满，关闭', 'k.sla_breach': '超出时限',
    'who.household': '居民', 'who.system': '系统',
    'role.grid': '网格员', 'role.village': '村干部', 'role.town': '镇干部', 'role.district': '区干部',
  },
  en: {
    back: '← Back to my queue', household: 'Household', description: 'Description', details: 'Details', photos: 'Resolution photos', 'photos.asked': 'Photos from the resident',
    timeline: 'Timeline', actions: 'Actions', noactions: 'There is nothing you can do on this case now.',
    'd.severity': 'Severity', 'd.location': 'Location', 'd.parties': 'Parties', 'd.service': 'Service', 'd.category': 'Category',
    'a.accept': 'Accept', 'a.start': 'Start', 'a.resume': 'Resume', 'a.wait': 'Wait on resident…', 'a.resolve': 'Resolve…',
    'a.transfer': 'Transfer…', 'a.escalate': 'Escalate…', 'a.reject': 'Reject…',
    'f.note': 'Note (required)', 'f.resolution': 'What was done (required)', 'f.photo': 'Photos (optional, several allowed)',
    'f.to': 'Transfer to', 'f.reason': 'Reason', 'f.rreason': 'Why reject', 'f.dup': 'Duplicate of case number',
    'r.duplicate': 'Duplicate', 'r.not_responsible': 'Not ours to handle', submit: 'Submit',
    'done.accept': 'Accepted', 'done.start': 'Started', 'done.resume': 'Resumed', 'done.wait': 'Waiting on the resident',
    'done.resolve': 'Resolved; the resident confirms', 'done.transfer': 'Transferred', 'done.escalate': 'Escalated',
    'done.reject': 'Rejected', 'resolution': 'Resolution',
    'k.submit': 'Submitted', 'k.accept': 'Accepted', 'k.start': 'Started', 'k.wait': 'Waiting on resident', 'k.resume': 'Resumed',
    'k.resolve': 'Resolved', 'k.confirm': 'Resident confirmed', 'k.reopen': 'Resident: not solved, reopened',
    'k.transfer': 'Transferred', 'k.escalate': 'Escalated', 'k.reject': 'Rejected', 'k.expire': 'Rating window over, closed',
    'k.sla_breach': 'Deadline missed',
    'who.household': 'Resident', 'who.system': 'System',
    'role.grid': 'grid worker', 'role.village': 'village officer', 'role.town': 'town officer', 'role.district': 'district officer',
  },
});

let caseId = 0;

async function act(op, body, form) {
  const path = op === 'resolve' && form ? `cases/${caseId}/resolve/photo` : `cases/${caseId}/${op}`;
  try {
    await api(path, form ? { form } : { method: 'POST', body });
    toast(t('done.' + op));
    await showCase(caseId);
    const heading = document.querySelector('h1');
    if (heading) heading.focus();
  } catch (e) {
    toast(errorText(e), { error: true });
  }
}

function field(id, label, input) {
  return [h('label', { for: id }, label), input];
}

function actionForm(op, fields, collect) {
  const form = h('form', { class: 'action-form', id: 'form-' + op, novalidate: true }, fields,
    h('button', { type: 'submit', class: 'primary block' }, t('submit')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const got = collect();
    if (!got) return;
    form.querySelector('button[type=submit]').disabled = true;
    act(op, got.body, got.form);
  });
  return h('details', { class: 'action', id: 'action-' + op }, h('summary', { class: 'button' }, t('a.' + op)), form);
}

function required(el) {
  const v = el.value.trim();
  el.setAttribute('aria-invalid', v ? 'false' : 'true');
  if (!v) el.focus();
  return v;
}

const FORMS = {
  wait() {
    const note = h('textarea', { id: 'wait-note', required: true, maxlength: '4000' });
    return actionForm('wait', field('wait-note', t('f.note'), note), () => {
      const v = required(note);
      return v && { body: { note: v } };
    });
  },
  resolve() {
    const note = h('textarea', { id: 'resolve-note', required: true, maxlength: '4000' });
    const photo = h('input', { id: 'resolve-photo', type: 'file', accept: 'image/*', capture: 'environment', multiple: true });
    return actionForm('resolve', [field('resolve-note', t('f.resolution'), note), field('resolve-photo', t('f.photo'), photo)], () => {
      const v = required(note);
      if (!v) return null;
      if (!photo.files.length) return { body: { note: v } };
      const form = new FormData();
      form.append('note', v);
      for (const f of photo.files) form.append('photo', f, f.name);
      return { form };
    });
  },
  transfer(view) {
    const to = h('select', { id: 'transfer-to', required: true },
      view.transfer_to.map((w) => h('option', { value: w.id }, `${w.name} · ${t('role.' + w.role)}`)));
    const reason = h('input', { id: 'transfer-reason', maxlength: '500' });
    return actionForm('transfer', [field('transfer-to', t('f.to'), to), field('transfer-reason', t('f.reason'), reason)],
      () => ({ body: { to_worker: to.value, reason: reason.value.trim() } }));
  },
  escalate() {
    const reason = h('input', { id: 'escalate-reason', maxlength: '500' });
    return actionForm('escalate', field('escalate-reason', t('f.reason'), reason), () => ({ body: { reason: reason.value.trim() } }));
  },
  reject() {
    const why = h('select', { id: 'reject-reason' },
      h('option', { value: 'duplicate' }, t('r.duplicate')), h('option', { value: 'not_responsible' }, t('r.not_responsible')));
    const dup = h('input', { id: 'reject-dup', type: 'number', min: '1', inputmode: 'numeric' });
    const note = h('input', { id: 'reject-note', maxlength: '500' });
    return actionForm('reject', [field('reject-reason', t('f.rreason'), why), field('reject-dup', t('f.dup'), dup),
      field('reject-note', t('f.note').replace(/（必填）| \(required\)/, ''), note)], () => {
      const body = { reason: why.value, note: note.value.trim() };
      if (why.value === 'duplicate') {
        const n = Number(dup.value);
        if (!n) { dup.setAttribute('aria-invalid', 'true'); dup.focus(); return null; }
        body.duplicate_of = n;
      }
      return { body };
    });
  },
};

function actions(view) {
  if (!view.actions.length) return h('p', { class: 'muted', id: 'no-actions' }, t('noactions'));
  const quick = view.actions.filter((a) => !FORMS[a]).map((op) =>
    h('button', { type: 'button', class: 'primary', id: 'do-' + op, onclick: (ev) => { ev.target.disabled = true; act(op, undefined); } }, t('a.' + op)));
  const forms = view.actions.filter((a) => FORMS[a]).map((op) => FORMS[op](view));
  return [quick.length ? h('div', { class: 'row quick-actions' }, quick) : null, forms];
}

function who(actor) {
  const [kind, id] = String(actor || '').split(/:(.*)/s);
  if (kind === 'household' || kind === 'system') return t('who.' + kind);
  return id || actor;
}

function timeline(history) {
  return h('ol', { class: 'timeline', id: 'timeline' }, (history || []).map((e) => {
    const kind = e.kind.replace(/^case\./, '');
    const a = e.after || {};
    const note = [a.note, a.reason, a.resolution_note].filter((x) => typeof x === 'string' && x).join(' · ');
    return h('li', { dataset: { kind } }, h('strong', {}, t('k.' + kind)), ' ',
      h('span', { class: 'muted small' }, fmtTime(e.at), ' · ', who(e.actor)), note ? h('div', {}, note) : null);
  }));
}

function details(c) {
  const rows = Object.entries(c.details || {}).map(([k, v]) => {
    let text = Array.isArray(v) ? v.join('、') : String(v);
    if (k === 'severity') text = t('sev.' + v);
    return h('tr', {}, h('th', { scope: 'row' }, t('d.' + k)), h('td', {}, text));
  });
  return rows.length ? h('table', { class: 'details' }, h('tbody', {}, rows)) : null;
}

function gallery(urls, id, title, cid) {
  if (!urls || !urls.length) return null;
  return [h('h2', {}, title), h('div', { class: 'photos', id }, urls.map((src, i) =>
    h('a', { href: src, target: '_blank', rel: 'noopener' }, h('img', { src, alt: `${title} ${i + 1} (#${cid})`, loading: 'lazy' }))))];
}

function render(view) {
  const c = view.case;
  const hh = view.household || {};
  mount(...topbar(''),
    h('p', {}, h('a', { href: '/w' }, t('back'))),
    h('h1', { tabindex: '-1' }, '#' + c.id + ' ', c.title),
    h('p', { class: 'row', id: 'case-badges', dataset: { state: c.state } }, h('span', { class: 'badge' }, t('type.' + c.type)), stateBadge(c.state),
      c.level !== 'village' ? h('span', { class: 'badge' }, t('level.' + c.level)) : null, dueBadge(view.due),
      c.reopen_count > 0 ? h('span', { class: 'badge bad' }, t('reopened', { n: c.reopen_count })) : null),
    h('section', { class: 'card' },
      h('h2', {}, t('household')), h('p', { id: 'household' }, hh.address || '', ' ', h('span', { class: 'muted small' }, c.household_id)),
      c.description ? [h('h2', {}, t('description')), h('p', { class: 'prewrap' }, c.description)] : null,
      details(c),
      gallery(view.request_photos, 'request-photos', t('photos.asked'), c.id),
      c.resolution_note ? [h('h2', {}, t('resolution')), h('p', { class: 'prewrap' }, c.resolution_note)] : null,
      gallery(view.photos, 'evidence-photos', t('photos'), c.id)),
    h('section', { class: 'actions', 'aria-labelledby': 'actions-h' }, h('h2', { id: 'actions-h' }, t('actions')), actions(view)),
    h('section', { 'aria-labelledby': 'timeline-h' }, h('h2', { id: 'timeline-h' }, t('timeline')), timeline(c.history)));
}

export async function showCase(id) {
  caseId = id;
  try {
    render(await api(`worker/cases/${id}`));
  } catch (e) {
    if (e.status === 401) window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname));
    else mount(...topbar(''), h('p', { class: 'card notice-bad', role: 'alert' }, errorText(e)), h('p', {}, h('a', { href: '/w' }, t('back'))));
  }
}
