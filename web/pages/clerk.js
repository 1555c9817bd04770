// /clerk: the village clerk's console. Every act is an API call; the service enforces the
// clerk's role and village. Upload a register -> its bad rows (before any serial is spent)
// -> issue -> progress -> download the PDF sheets, the manifest and the households' PIN slips
// (one download, then the service deletes them); revoke or reissue a
// household's plate with a reason; post and withdraw notices; export the verifier bundle.
import { api } from '../lib/api.js';
import { langSwitch, register, t } from '../lib/i18n.js';
import { boot, fmtTime, h, mount, toast } from '../lib/ui.js';
import './clerk.css';

register({
  'zh-CN': {
    brand: '金东区网格服务', title: '村文书工作台', logout: '退出登录',
    refused: '此页面仅供村文书使用。', 'to.login': '换个账号登录',
    'reg.h': '1. 上传户籍登记表', 'reg.file': '登记表文件（CSV 或 XLSX）', 'reg.check': '检查登记表',
    'reg.hint': '检查不会签发任何门牌，也不占用编号。', busy: '请稍候…',
    'reg.summary': '{file}：共 {good} 户可签发，{bad} 行有问题（编码 {enc}）。',
    'bad.caption': '有问题的行（修改后重新上传；其余行可以先签发）', 'bad.none': '没有问题行。',
    'bad.more': '另有 {n} 行问题未列出：改好上面的行后重新上传即可看到。',
    'col.row': '行', 'col.column': '列', 'col.reason': '原因', 'col.cell': '单元格内容',
    sheet: '纸张', carrier: '码制', 'carrier.qr': '二维码（QR）', 'carrier.snowflake': '雪花码',
    'issue.btn': '签发 {n} 块门牌', 'issue.none': '没有可签发的行。',
    'job.h': '签发进度', 'job.queued': '排队中…', 'job.running': '正在生成：{done}/{total}',
    'job.done': '完成：新签发 {issued}，补发 {reissued}，重印 {reprinted}，拒绝 {rejected}。',
    'job.failed': '签发失败：{error}', 'job.stale': '任务中断，正在恢复（不会重复占用编号）…',
    'dl.h': '下载', 'dl.pdf': '门牌 PDF：{name}', 'dl.manifest': '清单（Excel 可直接打开的 CSV）',
    'dl.rejected': '被拒绝的行（CSV）', 'dl.json': '清单（JSON）', 'dl.file': '文件：{name}',
    'dl.slips': '住户密码条（PDF，{n} 户）',
    'dl.slipsHint': '密码条含各户密码：只能下载一次，签发 {min} 分钟后自动删除。请与门牌一起交给各户，勿交给网格员。',
    'dl.slipsNone': '没有生成密码条：{why}', 'dl.slipsMissing': '{n} 户不在住户库中，未生成密码：{ids}',
    'issue.newPins': '更换住户密码：已有密码的住户也发新密码和密码条（旧密码条随即失效）',
    'dl.slipsKept': '{n} 户已有住户密码：保留不变（原密码条仍然有效），未为其生成密码条。如需更换，勾选“更换住户密码”后重新签发。',
    'dl.slipsReplaced': '{n} 户原有住户密码已更换：旧密码条已失效，请把新密码条交给这些住户。',
    'rv.h': '2. 作废或补发门牌', 'rv.household': '户号', 'rv.reason': '原因',
    'rv.reasons': '丢失|损坏|搬离|户号变更', 'rv.revoke': '作废门牌', 'rv.reissue': '补发新门牌',
    'rv.confirm': '确认作废 {id} 的门牌？作废后无法恢复。', 'rv.yes': '确认作废', 'rv.no': '取消',
    'rv.need': '请填写户号和原因。', 'rv.revoked': '已作废 {id} 的门牌，编号：{serials}。',
    'rv.already': '{id} 的门牌已经作废。', 'rv.reissued': '已作废旧门牌（{serials}），正在生成新门牌。', 'rv.printing': '该户没有在用的门牌，正在生成新门牌。',
    'rv.hint': '补发会使用最近上传的、包含该户的登记表来打印新门牌。',
    'rv.newPins': '同时更换该户的住户密码（旧密码条失效；例如密码条也丢失了）',
    'nt.h': '3. 村务公告', 'nt.title': '标题', 'nt.body': '内容', 'nt.expires': '有效期',
    'nt.never': '长期有效', 'nt.days': '{n} 天', 'nt.post': '发布公告', 'nt.posted': '公告已发布。',
    'nt.none': '目前没有公告。', 'nt.withdraw': '撤回', 'nt.withdrawn': '公告已撤回。',
    'nt.at': '发布于 {t}', 'nt.until': '，至 {t}', 'nt.need': '请填写标题和内容。',
    'bd.h': '4. 导出核验包', 'bd.text': '核验包让扫码设备离线核验本村门牌（不含签发密钥）。',
    'bd.btn': '下载核验包', 'bd.done': '核验包已下载。',
    'err.network': '网络错误，请重试', 'err.login': '登录已过期，请重新登录',
  },
  en: {
    brand: 'Jindong grid service', title: 'Clerk console', logout: 'Log out',
    refused: 'This page is for village clerks.', 'to.login': 'Log in as someone else',
    'reg.h': '1. Upload a household register', 'reg.file': 'Register file (CSV or XLSX)',
    'reg.check': 'Check the register', 'reg.hint': 'Checking issues nothing and spends no serial.',
    busy: 'Please wait…',
    'reg.summary': '{file}: {good} households ready to issue, {bad} bad rows (encoding {enc}).',
    'bad.caption': 'Bad rows (fix them and upload again; the other rows can be issued now)',
    'bad.none': 'No bad rows.',
    'bad.more': '{n} more bad rows not listed: fix the rows above and upload again to see them.',
    'col.row': 'Row', 'col.column': 'Column', 'col.reason': 'Reason', 'col.cell': 'Cell',
    sheet: 'Paper', carrier: 'Symbol', 'carrier.qr': 'QR code', 'carrier.snowflake': 'Snowflake',
    'issue.btn': 'Issue {n} plates', 'issue.none': 'No rows to issue.',
    'job.h': 'Progress', 'job.queued': 'Queued…', 'job.running': 'Rendering: {done}/{total}',
    'job.done': 'Done: {issued} issued, {reissued} reissued, {reprinted} reprinted, {rejected} rejected.',
    'job.failed': 'Issuing failed: {error}',
    'job.stale': 'The job was interrupted; resuming it (no serial is spent twice)…',
    'dl.h': 'Downloads', 'dl.pdf': 'Plates PDF: {name}', 'dl.manifest': 'Manifest (CSV for Excel)',
    'dl.rejected': 'Rejected rows (CSV)', 'dl.json': 'Manifest (JSON)', 'dl.file': 'File: {name}',
    'dl.slips': 'Household PIN slips (PDF, {n} households)',
    'dl.slipsHint': 'The slips hold the households’ PINs: one download only, deleted {min} minutes after issuing. Hand each to its household with the plate, never to the grid worker.',
    'dl.slipsNone': 'No PIN slips were made: {why}', 'dl.slipsMissing': '{n} households are not in the register database and got no PIN: {ids}',
    'issue.newPins': 'Replace PINs: households that already hold a PIN get a new one and a new slip too (their old slips stop working)',
    'dl.slipsKept': '{n} households already have a PIN: kept (their slips stay valid), no slip made for them. To replace them, tick “Replace PINs” and issue again.',
    'dl.slipsReplaced': '{n} households had a PIN: replaced. Their old slips stopped working: hand them the new slips.',
    'rv.h': '2. Revoke or reissue a plate', 'rv.household': 'Household id', 'rv.reason': 'Reason',
    'rv.reasons': 'lost|damaged|moved out|household id changed', 'rv.revoke': 'Revoke plate',
    'rv.reissue': 'Reissue a new plate',
    'rv.confirm': 'Revoke the plate of {id}? This cannot be undone.', 'rv.yes': 'Yes, revoke',
    'rv.no': 'Cancel', 'rv.need': 'Give a household id and a reason.',
    'rv.revoked': 'Revoked the plate of {id}: serial {serials}.',
    'rv.already': 'The plate of {id} was already revoked.',
    'rv.reissued': 'Old plate revoked ({serials}); the new plate is being rendered.',
    'rv.printing': 'The household has no live plate; the new plate is being rendered.',
    'rv.hint': 'A reissue prints from your latest uploaded register that lists the household.',
    'rv.newPins': 'Also replace the household’s PIN (its old slip stops working; e.g. the slip was lost too)',
    'nt.h': '3. Village notices', 'nt.title': 'Title', 'nt.body': 'Text', 'nt.expires': 'Valid for',
    'nt.never': 'No end date', 'nt.days': '{n} days', 'nt.post': 'Post notice',
    'nt.posted': 'Notice posted.', 'nt.none': 'No notices now.', 'nt.withdraw': 'Withdraw',
    'nt.withdrawn': 'Notice withdrawn.', 'nt.at': 'posted {t}', 'nt.until': ', until {t}',
    'nt.need': 'Give a title and a text.',
    'bd.h': '4. Export the verifier bundle',
    'bd.text': 'The bundle lets scanning devices verify this village’s plates offline (no issuing keys).',
    'bd.btn': 'Download the verifier bundle', 'bd.done': 'Verifier bundle downloaded.',
    'err.network': 'Network error; try again', 'err.login': 'Session expired: log in again',
  },
});

const COLUMNS = {
  'zh-CN': { household_id: '户号', village_code: '村代码', village_name: '村名', house_no: '门牌号',
    grid: '网格', worker: '网格员', worker_id: '网格员编号', worker_phone: '联系电话', head: '户主',
    address: '地址', lat: '纬度', lon: '经度', role: '角色', unit: '单位', row: '整行' },
};
const REASONS = {
  'zh-CN': { missing_id: '缺少户号', bad_household_id: '户号格式错误', missing_village_code: '缺少村代码',
    bad_village_code: '村代码格式错误（应为 12 位数字）', duplicate_household: '户号重复',
    unknown_encoding: '无法识别的文字编码', bad_field: '内容不合规', formula: '含公式（不允许）',
    bad_staff_row: '工作人员行有误', other_village: '不是本村的户' },
};
const lang = () => (document.documentElement.lang === 'en' ? 'en' : 'zh-CN');
const colName = (c) => (COLUMNS[lang()] || {})[c] || c;
const reasonName = (r) => (REASONS[lang()] || {})[r] || r.replace(/_/g, ' ');

function errText(e) {
  if (e && e.status === 401) return t('err.login');
  if (e && e.status === 0) return t('err.network');
  return (e && (e.detail || e.message)) || t('err.network');
}

function fail(target, e) {
  target.textContent = errText(e);
  target.classList.remove('hidden');
  target.classList.add('error-text');
}

function say(target, text) {
  target.textContent = text;
  target.classList.remove('hidden', 'error-text');
}

/** Poll a job until it ends, showing progress in `panel`; resolves with the final job. */
async function follow(jobId, panel) {
  const bar = h('progress', { id: 'job-progress', max: '1', value: '0', 'aria-label': t('job.h') });
  const text = h('p', { id: 'job-state', role: 'status', 'aria-live': 'polite' }, t('job.queued'));
  panel.replaceChildren(h('h3', {}, t('job.h')), bar, text);
  panel.classList.remove('hidden');
  for (;;) {
    let j;
    try {
      j = await api(`jobs/${jobId}`);
    } catch (e) {
      fail(text, e);
      return null;
    }
    if (j.total) {
      bar.max = j.total;
      bar.value = j.done;
    }
    if (j.state === 'done') {
      bar.max = 1;
      bar.value = 1;
      const c = j.result.counts || {};
      text.textContent = t('job.done', { issued: c.issued || 0, reissued: c.reissued || 0,
        reprinted: c.reprinted || 0, rejected: c.rejected || 0 });
      panel.append(downloads(j));
      return j;
    }
    if (j.state === 'failed') {
      fail(text, { detail: t('job.failed', { error: j.error }) });
      return j;
    }
    // stale: its server process is gone; reading it makes the service resume it
    const waiting = j.state === 'stale' ? t('job.stale') : j.state === 'queued' ? t('job.queued') : null;
    text.textContent = waiting || t('job.running', { done: j.done, total: j.total || '…' });
    await new Promise((r) => setTimeout(r, 600));
  }
}

function downloads(job) {
  // the slips file is the one the job's result names (the library picks it: pin-slips.pdf,
  // or numbered when a file of that name is there)
  const isSlips = (name) => name === (job.result.slips || {}).file;
  const label = (name) => {
    if (isSlips(name)) return t('dl.slips', { n: (job.result.slips || {}).households || 0 });
    if (name.endsWith('.pdf')) return t('dl.pdf', { name });
    if (name === 'manifest.csv') return t('dl.manifest');
    if (name === 'rejected.csv') return t('dl.rejected');
    if (name === 'manifest.json') return t('dl.json');
    return t('dl.file', { name });
  };
  const order = (n) => (isSlips(n) ? 1 : n.endsWith('.pdf') ? 0 : n === 'manifest.csv' ? 2 : n.endsWith('.csv') ? 3 : 4);
  const files = [...(job.result.files || [])].sort((a, b) => order(a) - order(b) || a.localeCompare(b));
  return h('div', { id: 'downloads', class: 'stack' }, h('h3', {}, t('dl.h')),
    files.map((name) => h('a', {
      class: order(name) === 0 ? 'button primary block' : 'button block',
      href: `/api/v1/jobs/${job.id}/files/${encodeURIComponent(name)}`, download: name,
      dataset: { file: name },
    }, label(name))), slipsNote(job.result.slips));
}

// the slips hold secrets: say so, and say which households got none (and why)
function slipsNote(slips) {
  if (!slips) return null;
  const lines = [];
  if (slips.file) lines.push(t('dl.slipsHint', { min: Math.round((slips.ttl_seconds || 1800) / 60) }));
  if (slips.error) lines.push(t('dl.slipsNone', { why: slips.error }));
  if (slips.replaced) lines.push(t('dl.slipsReplaced', { n: slips.replaced }));
  if (slips.kept) lines.push(t('dl.slipsKept', { n: slips.kept }));
  if ((slips.not_in_database || []).length) {
    const n = slips.not_in_database_count || slips.not_in_database.length;
    const more = n > slips.not_in_database.length ? ', …' : '';
    lines.push(t('dl.slipsMissing', { n, ids: slips.not_in_database.join(', ') + more }));
  }
  const bad = slips.error || (slips.not_in_database || []).length;
  if (!lines.length) return null;
  return h('div', { id: 'slips-note', class: `card ${bad ? 'notice-bad' : 'notice-ok'}` },
    lines.map((line) => h('p', {}, line)));
}

const MAX_ROWS_SHOWN = 300; // a register with thousands of bad rows stays usable on a phone

function badRowsTable(all) {
  if (!all.length) return h('p', { id: 'bad-none', class: 'notice-ok card' }, t('bad.none'));
  const problems = all.slice(0, MAX_ROWS_SHOWN);
  const more = all.length > problems.length
    ? h('p', { id: 'bad-more', class: 'muted' }, t('bad.more', { n: all.length - problems.length })) : null;
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-labelledby': 'bad-caption' },
    h('table', { id: 'bad-rows' },
      h('caption', { id: 'bad-caption' }, t('bad.caption')),
      h('thead', {}, h('tr', {}, ['col.row', 'col.column', 'col.reason', 'col.cell'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, problems.map((p) => h('tr', { dataset: { row: String(p.row), column: p.column, reason: p.reason } },
        h('td', { 'data-label': t('col.row') }, String(p.row)),
        h('td', { 'data-label': t('col.column') }, colName(p.column)),
        h('td', { 'data-label': t('col.reason') }, h('div', {}, reasonName(p.reason), h('br'), h('span', { class: 'muted small' }, p.detail))),
        h('td', { class: 'cell', 'data-label': t('col.cell') }, p.cell || '')))),
    ), more);
}

function select(id, options, value) {
  return h('select', { id, name: id }, options.map(([v, label]) => h('option', { value: v, selected: v === value }, label)));
}

function registerSection() {
  const file = h('input', { id: 'register-file', name: 'file', type: 'file', required: true,
    accept: '.csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet' });
  const check = h('button', { type: 'submit', class: 'primary', id: 'register-check' }, t('reg.check'));
  const msg = h('p', { id: 'register-msg', class: 'hidden', role: 'alert' });
  const result = h('div', { id: 'dry-run', class: 'hidden' });
  const job = h('div', { id: 'job', class: 'card hidden' });
  const form = h('form', { id: 'register-form' },
    h('label', { for: 'register-file' }, t('reg.file')), file,
    h('p', { class: 'muted small' }, t('reg.hint')), h('p', {}, check), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!file.files.length) return;
    const fd = new FormData();
    fd.append('file', file.files[0]);
    check.disabled = true;
    say(msg, t('busy'));
    result.classList.add('hidden');
    job.classList.add('hidden');
    try {
      const dry = await api('registers', { form: fd });
      msg.classList.add('hidden');
      showDryRun(result, job, dry);
    } catch (e) {
      fail(msg, e);
    } finally {
      check.disabled = false;
    }
  });
  return h('section', { id: 'sec-register', 'aria-labelledby': 'reg-h' },
    h('h2', { id: 'reg-h' }, t('reg.h')), form, result, job);
}

function showDryRun(result, job, dry) {
  const sheet = select('issue-sheet', [['a4', 'A4'], ['a3', 'A3']], 'a4');
  const carrier = select('issue-carrier', [['snowflake', t('carrier.snowflake')], ['qr', t('carrier.qr')]], 'snowflake');
  const newPins = h('input', { id: 'issue-new-pins', name: 'new_pins', type: 'checkbox' });
  const go = h('button', { type: 'button', class: 'primary block', id: 'issue-btn', disabled: !dry.households },
    dry.households ? t('issue.btn', { n: dry.households }) : t('issue.none'));
  go.addEventListener('click', async () => {
    go.disabled = true;
    try {
      const r = await api(`registers/${dry.upload_id}/issue`, { body: { format: 'pdf', sheet: sheet.value, carrier: carrier.value, new_pins: newPins.checked } });
      await follow(r.job_id, job);
    } catch (e) {
      job.classList.remove('hidden');
      fail(job, e);
    }
  });
  result.replaceChildren(
    h('p', { id: 'dry-summary', class: 'card' }, t('reg.summary', { file: dry.file, good: dry.households, bad: dry.problems.length, enc: dry.encoding })),
    badRowsTable(dry.problems),
    h('div', { class: 'row options' },
      h('div', {}, h('label', { for: 'issue-sheet' }, t('sheet')), sheet),
      h('div', {}, h('label', { for: 'issue-carrier' }, t('carrier')), carrier)),
    h('label', { class: 'choice', for: 'issue-new-pins' }, newPins, t('issue.newPins')),
    h('p', {}, go));
  result.classList.remove('hidden');
}

function revokeSection() {
  const hid = h('input', { id: 'rv-household', name: 'household_id', autocomplete: 'off', maxlength: '32', required: true });
  const reason = h('input', { id: 'rv-reason', name: 'reason', list: 'rv-reasons', maxlength: '200', required: true });
  const reasons = h('datalist', { id: 'rv-reasons' }, t('rv.reasons').split('|').map((r) => h('option', { value: r })));
  const msg = h('p', { id: 'rv-msg', class: 'hidden', role: 'status', 'aria-live': 'polite' });
  const confirmBox = h('div', { id: 'rv-confirm', class: 'card notice-bad hidden' });
  const job = h('div', { id: 'rv-job', class: 'card hidden' });
  const revokeBtn = h('button', { type: 'button', class: 'danger', id: 'revoke-btn' }, t('rv.revoke'));
  const reissueBtn = h('button', { type: 'button', id: 'reissue-btn' }, t('rv.reissue'));
  const rvNewPins = h('input', { id: 'rv-new-pins', name: 'new_pins', type: 'checkbox' });
  const values = () => {
    const v = { household_id: hid.value.trim(), reason: reason.value.trim() };
    if (!v.household_id || !v.reason) {
      fail(msg, { detail: t('rv.need') });
      return null;
    }
    return v;
  };
  revokeBtn.addEventListener('click', () => {
    const v = values();
    if (!v) return;
    const yes = h('button', { type: 'button', class: 'danger', id: 'revoke-yes' }, t('rv.yes'));
    const no = h('button', { type: 'button', id: 'revoke-no' }, t('rv.no'));
    confirmBox.replaceChildren(h('p', {}, t('rv.confirm', { id: v.household_id })), h('div', { class: 'row' }, yes, no));
    confirmBox.classList.remove('hidden');
    no.addEventListener('click', () => confirmBox.classList.add('hidden'));
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        const r = await api('plates/revoke', { body: v });
        confirmBox.classList.add('hidden');
        say(msg, r.revoked.length ? t('rv.revoked', { id: v.household_id, serials: r.revoked.join(', ') }) : t('rv.already', { id: v.household_id }));
      } catch (e) {
        confirmBox.classList.add('hidden');
        fail(msg, e);
      }
    });
  });
  reissueBtn.addEventListener('click', async () => {
    const v = values();
    if (!v) return;
    reissueBtn.disabled = true;
    try {
      const r = await api('plates/reissue', { body: { ...v, format: 'pdf', new_pins: rvNewPins.checked } });
      say(msg, r.revoked.length ? t('rv.reissued', { serials: r.revoked.join(', ') }) : t('rv.printing'));
      await follow(r.job_id, job);
    } catch (e) {
      fail(msg, e);
    } finally {
      reissueBtn.disabled = false;
    }
  });
  return h('section', { id: 'sec-revoke', 'aria-labelledby': 'rv-h' },
    h('h2', { id: 'rv-h' }, t('rv.h')),
    h('label', { for: 'rv-household' }, t('rv.household')), hid,
    h('label', { for: 'rv-reason' }, t('rv.reason')), reason, reasons,
    h('p', { class: 'muted small' }, t('rv.hint')),
    h('label', { class: 'choice', for: 'rv-new-pins' }, rvNewPins, t('rv.newPins')),
    h('div', { class: 'row' }, revokeBtn, reissueBtn), confirmBox, msg, job);
}

function noticesSection(village) {
  const list = h('ul', { id: 'notice-list', class: 'notices' });
  const msg = h('p', { id: 'nt-msg', class: 'hidden', role: 'status', 'aria-live': 'polite' });
  const title = h('input', { id: 'nt-title', name: 'title', maxlength: '200', required: true });
  const body = h('textarea', { id: 'nt-body', name: 'body', maxlength: '4000', required: true });
  const days = select('nt-expires', [['', t('nt.never')], ['7', t('nt.days', { n: 7 })], ['30', t('nt.days', { n: 30 })], ['90', t('nt.days', { n: 90 })]], '');
  const post = h('button', { type: 'submit', class: 'primary', id: 'notice-post' }, t('nt.post'));
  async function load() {
    try {
      const rows = await api(`notices?unit_id=${encodeURIComponent(village)}`);
      list.replaceChildren(...(rows.length ? rows.map(item) : [h('li', { class: 'muted' }, t('nt.none'))]));
    } catch (e) {
      fail(msg, e);
    }
  }
  function item(n) {
    const btn = h('button', { type: 'button', class: 'danger withdraw', dataset: { id: String(n.id) } }, t('nt.withdraw'));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      try {
        await api(`notices/${n.id}/withdraw`, { method: 'POST' });
        say(msg, t('nt.withdrawn'));
        await load();
      } catch (e) {
        btn.disabled = false;
        fail(msg, e);
      }
    });
    const when = t('nt.at', { t: fmtTime(n.posted_at) }) + (n.expires_at ? t('nt.until', { t: fmtTime(n.expires_at) }) : '');
    return h('li', { class: 'card notice', dataset: { id: String(n.id) } },
      h('h3', {}, n.title), h('p', { class: 'pre' }, n.body), h('p', { class: 'muted small' }, when), btn);
  }
  const form = h('form', { id: 'notice-form' },
    h('label', { for: 'nt-title' }, t('nt.title')), title,
    h('label', { for: 'nt-body' }, t('nt.body')), body,
    h('label', { for: 'nt-expires' }, t('nt.expires')), days, h('p', {}, post));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!title.value.trim() || !body.value.trim()) return fail(msg, { detail: t('nt.need') });
    const payload = { unit_id: village, title: title.value.trim(), body: body.value.trim() };
    if (days.value) payload.expires_at = Math.floor(Date.now() / 1000) + Number(days.value) * 86400;
    post.disabled = true;
    try {
      await api('notices', { body: payload });
      form.reset();
      say(msg, t('nt.posted'));
      await load();
    } catch (e) {
      fail(msg, e);
    } finally {
      post.disabled = false;
    }
  });
  load();
  return h('section', { id: 'sec-notices', 'aria-labelledby': 'nt-h' }, h('h2', { id: 'nt-h' }, t('nt.h')), form, msg, list);
}

function bundleSection() {
  const msg = h('p', { id: 'bd-msg', class: 'hidden', role: 'status', 'aria-live': 'polite' });
  const btn = h('button', { type: 'button', id: 'bundle-btn' }, t('bd.btn'));
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      // fetched first so a refusal shows as a message, not as a downloaded error file
      const data = await api('verifier-bundle');
      const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 1)], { type: 'application/json' }));
      const a = h('a', { href: url, download: 'verifier-bundle.json', class: 'hidden' });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
      say(msg, t('bd.done'));
    } catch (e) {
      fail(msg, e);
    } finally {
      btn.disabled = false;
    }
  });
  return h('section', { id: 'sec-bundle', 'aria-labelledby': 'bd-h' },
    h('h2', { id: 'bd-h' }, t('bd.h')), h('p', { class: 'muted' }, t('bd.text')), btn, msg);
}

async function logout() {
  try {
    await api('auth/logout', { method: 'POST' });
  } catch (e) {
    toast(errText(e), { error: true });
  }
  window.location.assign('/login');
}

function render() {
  const b = boot();
  const out = h('button', { type: 'button', id: 'logout', class: 'small-btn' }, t('logout'));
  out.addEventListener('click', logout);
  const top = h('header', { class: 'topbar' }, h('span', { class: 'brand' }, t('brand')), h('div', { class: 'row' }, langSwitch(), out));
  if (b.refused || !b.village) {
    mount(top, h('h1', {}, t('title')), h('p', { class: 'card notice-bad', role: 'alert' }, t('refused')),
      h('p', {}, h('a', { href: '/login?next=/clerk' }, t('to.login'))));
    return;
  }
  const who = `${b.village.name || ''} ${b.village.id} · ${b.user.display_name || b.user.username}`;
  mount(top, h('h1', {}, t('title')), h('p', { class: 'muted', id: 'who' }, who),
    h('div', { class: 'console' }, registerSection(), revokeSection(), noticesSection(b.village.id), bundleSection()));
}

render();
