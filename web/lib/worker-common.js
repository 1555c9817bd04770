// The grid worker's pages: shared strings, the top bar and formatting (see web/pages/worker.js).
import { api } from './api.js';
import { langSwitch, lang, register, t } from './i18n.js';
import { boot, h } from './ui.js';

register({
  'zh-CN': {
    brand: '网格员', queue: '我的待办', checkin: '入户签到', logout: '退出',
    'type.proxy': '代办', 'type.dispute': '纠纷调解', 'type.hazard': '隐患', 'type.event': '事件上报', 'type.other': '其他',
    'state.submitted': '待受理', 'state.accepted': '已受理', 'state.in_progress': '办理中',
    'state.waiting_on_resident': '等待居民', 'state.resolved': '已办结，待居民确认',
    'state.closed_confirmed': '居民已确认', 'state.closed_unconfirmed': '已关闭（未确认）', 'state.rejected': '已驳回',
    'level.village': '村级', 'level.town': '镇级', 'level.district': '区级',
    'sev.low': '低', 'sev.medium': '中', 'sev.high': '高', 'sev.critical': '紧急',
    'due.accept': '受理', 'due.resolve': '办结',
    'due.left': '{timer}剩余 {d}', 'due.over': '{timer}已超时 {d}', 'due.paused': '计时暂停（等待居民），剩余 {d}',
    'dur.d': '{n}天', 'dur.h': '{n}小时', 'dur.m': '{n}分钟', 'dur.now': '不到1分钟',
    reopened: '居民评价未解决，已退回（第 {n} 次）',
    'err.409': '事项状态已变化，请刷新后再试', 'err.403': '您无权进行此操作', 'err.404': '未找到该事项',
    'err.401': '登录已过期，请重新登录', 'err.429': '操作太频繁，请稍后再试', 'err.0': '网络错误，请重试',
    'err.other': '操作失败：{detail}',
  },
  en: {
    brand: 'Grid worker', queue: 'My queue', checkin: 'Check in', logout: 'Log out',
    'type.proxy': 'Proxy service', 'type.dispute': 'Dispute', 'type.hazard': 'Hazard', 'type.event': 'Event', 'type.other': 'Other',
    'state.submitted': 'New', 'state.accepted': 'Accepted', 'state.in_progress': 'In progress',
    'state.waiting_on_resident': 'Waiting on resident', 'state.resolved': 'Resolved, awaiting the resident',
    'state.closed_confirmed': 'Confirmed', 'state.closed_unconfirmed': 'Closed (unconfirmed)', 'state.rejected': 'Rejected',
    'level.village': 'Village', 'level.town': 'Town', 'level.district': 'District',
    'sev.low': 'low', 'sev.medium': 'medium', 'sev.high': 'high', 'sev.critical': 'critical',
    'due.accept': 'Accept', 'due.resolve': 'Resolve',
    'due.left': '{timer}: {d} left', 'due.over': '{timer}: overdue by {d}', 'due.paused': 'Clock paused (waiting on resident), {d} left',
    'dur.d': '{n} d', 'dur.h': '{n} h', 'dur.m': '{n} min', 'dur.now': 'under a minute',
    reopened: 'Resident said not solved: back to you (time {n})',
    'err.409': 'The case changed meanwhile; reload and try again', 'err.403': 'You may not do this',
    'err.404': 'Case not found', 'err.401': 'Your session has ended; log in again',
    'err.429': 'Too many requests; try again shortly', 'err.0': 'Network error; try again',
    'err.other': 'Failed: {detail}',
  },
});

/** 93784 -> "1天2小时" / "1 d 2 h" (the two largest units). */
export function duration(secs) {
  let s = Math.abs(Math.round(secs));
  if (s < 60) return t('dur.now');
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    const n = Math.floor(s / size);
    s -= n * size;
    if (n || parts.length) parts.push(n ? t('dur.' + unit, { n }) : '');
  }
  return parts.filter(Boolean).slice(0, 2).join(lang() === 'en' ? ' ' : '');
}

/** The SLA line of a case ({timer, left, overdue, paused}) as a badge. */
export function dueBadge(due) {
  if (!due) return null;
  const timer = t('due.' + due.timer);
  const d = duration(due.left);
  if (due.paused) return h('span', { class: 'badge due-paused' }, t('due.paused', { d }));
  if (due.overdue) return h('span', { class: 'badge bad due-over' }, t('due.over', { timer, d }));
  const soon = due.left < 4 * 3600;
  return h('span', { class: soon ? 'badge warn due-soon' : 'badge ok due-left' }, t('due.left', { timer, d }));
}

export function stateBadge(state) {
  const cls = { submitted: 'warn', resolved: 'ok', closed_confirmed: 'ok', rejected: '' }[state] || '';
  return h('span', { class: 'badge ' + cls }, t('state.' + state));
}

export function errorText(e) {
  if (e && [0, 401, 403, 404, 409, 429].includes(e.status)) return t('err.' + e.status);
  return t('err.other', { detail: (e && (e.detail || e.message)) || '?' });
}

async function logout() {
  try {
    await api('auth/logout', { method: 'POST' });
  } finally {
    window.location.assign('/login');
  }
}

/** The top bar: who I am, my pages, language, log out. */
export function topbar(current) {
  const me = boot().me || {};
  const link = (href, key) =>
    h('a', { href, class: current === key ? 'wnav-link current' : 'wnav-link', 'aria-current': current === key ? 'page' : null }, t(key));
  return [
    h('header', { class: 'topbar' },
      h('span', { class: 'brand' }, t('brand'), ' · ', me.name || ''),
      h('span', { class: 'row' }, langSwitch(),
        h('button', { type: 'button', class: 'link-button', onclick: logout }, t('logout')))),
    h('nav', { class: 'wnav', 'aria-label': t('brand') }, link('/w', 'queue'), link('/w/checkin', 'checkin')),
  ];
}
