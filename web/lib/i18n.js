// Strings per language. The server picks the language (?lang=, then the lang cookie, then
// Accept-Language; zh-CN by default) and writes it into <html lang>; pages register their
// own strings: register({'zh-CN': {key: '…'}, en: {key: '…'}}), then t('key', {var: 1}).
import { h } from './ui.js';

const LANGS = ['zh-CN', 'en'];
const dicts = { 'zh-CN': {}, en: {} };

export function register(more) {
  for (const [lang, d] of Object.entries(more)) Object.assign((dicts[lang] = dicts[lang] || {}), d);
}

export function lang() {
  return document.documentElement.lang === 'en' ? 'en' : 'zh-CN';
}

export function t(key, vars) {
  const s = dicts[lang()][key] ?? dicts['zh-CN'][key] ?? key;
  if (!vars) return s;
  return s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
}

register({
  'zh-CN': { 'lang.switch': 'English', 'lang.label': '切换语言' },
  en: { 'lang.switch': '中文', 'lang.label': 'Switch language' },
});

/** A link to the same page in the other language (the server remembers it in a cookie). */
export function langSwitch() {
  const other = LANGS.find((l) => l !== lang());
  const url = new URL(window.location.href);
  url.searchParams.set('lang', other);
  return h('a', { class: 'lang-switch', href: url.pathname + url.search, lang: other,
    'aria-label': t('lang.label') + ': ' + t('lang.switch') }, t('lang.switch'));
}
