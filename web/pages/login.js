// /login: staff log in, then go to their page by role.
import { api, setCsrf } from '../lib/api.js';
import { langSwitch, register, t } from '../lib/i18n.js';
import { h, mount } from '../lib/ui.js';

register({
  'zh-CN': {
    title: '工作人员登录', user: '用户名', password: '密码', submit: '登录',
    busy: '正在登录…', failed: '用户名或密码错误，或账号已停用', throttled: '登录失败次数过多，请 15 分钟后再试',
    network: '网络错误，请重试', resident: '居民请扫描门牌上的码', brand: '金东区网格服务',
  },
  en: {
    title: 'Staff login', user: 'User name', password: 'Password', submit: 'Log in',
    busy: 'Logging in…', failed: 'Wrong user name or password, or account disabled',
    throttled: 'Too many failed logins; wait 15 minutes', network: 'Network error; try again',
    resident: 'Residents: scan the code on your door plate', brand: 'Jindong grid service',
  },
});

const HOME = { grid: '/w', clerk: '/clerk', village: '/dash', town: '/dash', district: '/dash', admin: '/dash' };

export function homeFor(role) {
  return HOME[role] || '/dash';
}

function safeNext() {
  const next = new URLSearchParams(window.location.search).get('next') || '';
  // only a path on this site (no //host, no scheme)
  return /^\/(?![/\\])[\w\-./?=&%]*$/.test(next) ? next : null;
}

function render() {
  const msg = h('p', { id: 'login-error', class: 'card notice-bad hidden', role: 'alert' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none' });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const btn = h('button', { type: 'submit', class: 'primary block', id: 'login-submit' }, t('submit'));
  const form = h('form', { id: 'login-form', novalidate: true },
    h('label', { for: 'username' }, t('user')), user,
    h('label', { for: 'password' }, t('password')), pass,
    h('p', {}, btn), msg);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    msg.classList.add('hidden');
    btn.disabled = true;
    btn.textContent = t('busy');
    try {
      const r = await api('auth/login', { body: { username: user.value.trim(), password: pass.value } });
      setCsrf(r.csrf);
      window.location.assign(safeNext() || homeFor(r.user.role));
    } catch (e) {
      msg.textContent = e.status === 429 ? t('throttled') : e.status === 401 || e.status === 422 ? t('failed') : t('network');
      msg.classList.remove('hidden');
      btn.disabled = false;
      btn.textContent = t('submit');
      pass.focus();
    }
  });
  mount(
    h('header', { class: 'topbar' }, h('span', { class: 'brand' }, t('brand')), langSwitch()),
    h('h1', {}, t('title')),
    form,
    h('p', { class: 'muted small' }, h('a', { href: '/scan' }, t('resident'))),
  );
}

render();
