// /w/checkin: scan the door plate with the in-page scanner (./scanner.js, loaded when the
// worker starts scanning) while the browser's geolocation runs (its accuracy shown), then
// POST /api/v1/visits/checkin {chip, gps}. The visit's plausibility flags are for the
// supervisor: the API does not give them to a grid worker and this page never shows any.
import { api } from './api.js';
import { register, t } from './i18n.js';
import { fmtTime, h, mount } from './ui.js';
import { errorText, topbar } from './worker-common.js';

register({
  'zh-CN': {
    'c.title': '入户签到', 'c.help': '对准门牌上的码扫描，签到会记录时间和您的位置。',
    'c.start': '开始扫描门牌', 'c.again': '签到下一户', 'c.busy': '正在签到…',
    'c.done': '已签到：{address}', 'c.at': '时间 {time}', 'c.hh': '户号 {id}',
    'gps.wait': '正在获取位置…', 'gps.ok': '位置精度约 ±{m} 米', 'gps.poor': '位置精度较差（±{m} 米），可到室外再试',
    'gps.none': '无法获取位置：签到仍会记录，但没有位置', 'gps.unsupported': '此浏览器不支持定位',
    'c.refused': '签到失败：{why}', 'c.chip': '门牌码无效、已作废或不属于本系统',
  },
  en: {
    'c.title': 'Check in', 'c.help': 'Point the camera at the code on the door plate; the check-in records the time and your position.',
    'c.start': 'Scan the door plate', 'c.again': 'Check in at the next door', 'c.busy': 'Checking in…',
    'c.done': 'Checked in: {address}', 'c.at': 'at {time}', 'c.hh': 'household {id}',
    'gps.wait': 'Finding your position…', 'gps.ok': 'Position accurate to about ±{m} m',
    'gps.poor': 'Position is rough (±{m} m); try again outdoors',
    'gps.none': 'No position: the check-in is recorded without one', 'gps.unsupported': 'This browser cannot give a position',
    'c.refused': 'Check-in failed: {why}', 'c.chip': 'The plate code is invalid, revoked or not ours',
  },
});

let fix = null;
let watch = null;

function startGps(out) {
  if (!('geolocation' in navigator)) {
    out.textContent = t('gps.unsupported');
    return;
  }
  out.textContent = t('gps.wait');
  if (watch !== null) navigator.geolocation.clearWatch(watch);
  watch = navigator.geolocation.watchPosition(
    (p) => {
      fix = p.coords;
      const m = Math.max(1, Math.round(fix.accuracy));
      out.textContent = t(m > 100 ? 'gps.poor' : 'gps.ok', { m });
      out.dataset.accuracy = String(m);
    },
    () => { fix = null; out.textContent = t('gps.none'); },
    { enableHighAccuracy: true, maximumAge: 30000, timeout: 20000 },
  );
}

function gpsText() {
  if (!fix) return null;
  return [fix.latitude.toFixed(6), fix.longitude.toFixed(6), Math.round(fix.accuracy)].join(',');
}

async function homes() {
  try {
    const rows = await api('households?limit=5000');
    return Object.fromEntries(rows.map((r) => [r.id, r.address]));
  } catch (e) {
    return {};
  }
}

async function checkIn(chip, result, scanBox, getHandle) {
  result.replaceChildren(h('p', { class: 'muted' }, t('c.busy')));
  try {
    const v = await api('visits/checkin', { body: { chip, gps: gpsText() } });
    const addr = (await homes())[v.household_id] || v.household_id;
    const handle = getHandle();
    if (handle && typeof handle.close === 'function') handle.close();
    scanBox.replaceChildren();
    result.replaceChildren(h('div', { class: 'card notice-ok', id: 'checkin-done', role: 'status' },
      h('p', {}, h('strong', {}, t('c.done', { address: addr }))),
      h('p', { class: 'muted small' }, t('c.hh', { id: v.household_id }), ' · ', t('c.at', { time: fmtTime(v.at) }))),
    h('button', { type: 'button', class: 'primary block', id: 'checkin-again', onclick: () => showCheckin() }, t('c.again')));
  } catch (e) {
    const why = e.error === 'chip_refused' ? t('c.chip') : errorText(e);
    result.replaceChildren(h('p', { class: 'card notice-bad', id: 'checkin-error', role: 'alert' }, t('c.refused', { why })));
  }
}

async function startScan(btn, scanBox, result) {
  btn.disabled = true;
  let handle = null;
  let done = false;
  try {
    const { openScanner } = await import('./scanner.js');
    handle = await openScanner(scanBox, {
      purpose: 'staff',
      onChip(text) {
        if (done) return;
        done = true;
        checkIn(text, result, scanBox, () => handle);
      },
      onRefused() {
        btn.disabled = false;
        btn.classList.remove('hidden');
        result.replaceChildren(h('p', { class: 'card notice-bad', id: 'checkin-error', role: 'alert' }, t('c.refused', { why: t('c.chip') })));
      },
    });
    btn.classList.add('hidden');
  } catch (e) {
    btn.disabled = false;
    result.replaceChildren(h('p', { class: 'card notice-bad', role: 'alert' }, errorText(e)));
  }
}

export function showCheckin() {
  const gps = h('p', { id: 'gps', class: 'gps', 'aria-live': 'polite' });
  const scanBox = h('div', { id: 'scanner', class: 'scanner-box' });
  const result = h('div', { id: 'checkin-result', 'aria-live': 'polite' });
  const btn = h('button', { type: 'button', class: 'primary block', id: 'start-scan' }, t('c.start'));
  btn.addEventListener('click', () => startScan(btn, scanBox, result));
  mount(...topbar('checkin'), h('h1', {}, t('c.title')), h('p', { class: 'muted' }, t('c.help')), gps, btn, scanBox, result);
  startGps(gps);
}
