// Small DOM helpers shared by every page. Text goes in as textContent, never as HTML.
let bootData = null;

/** The page's boot JSON (the server's <script type=application/json id=boot>). */
export function boot() {
  if (bootData === null) {
    const el = document.getElementById('boot');
    try {
      bootData = el ? JSON.parse(el.textContent || '{}') : {};
    } catch (e) {
      bootData = {};
    }
  }
  return bootData;
}

/**
 * h('button', {class: 'primary', onclick: fn, type: 'button'}, 'text', childEl, ...)
 * attrs: class, on<event> (functions), dataset (object), any other attribute (strings;
 * true -> present, false/null/undefined -> absent). Children: strings, numbers, nodes, arrays.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else if (k === 'style') throw new Error('no inline styles (CSP): use a class');
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace the contents of an element (default: <main id=app>) with the given children. */
export function mount(...children) {
  const app = document.getElementById('app');
  app.replaceChildren();
  append(app, children);
  return app;
}

let toastTimer = 0;
/** A short message at the bottom of the screen (announced to screen readers). */
export function toast(msg, { error = false } = {}) {
  let el = document.getElementById('toast');
  if (!el) {
    el = h('div', { id: 'toast', class: 'toast', role: 'status', 'aria-live': 'polite' });
    document.body.append(el);
  }
  el.textContent = msg;
  el.classList.toggle('error', error);
  el.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el.classList.remove('show'), 4000);
}

/** A time (Unix seconds, or an ISO string) as local date and time, in the page's language. */
export function fmtTime(t) {
  if (t === null || t === undefined || t === '') return '';
  const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const lang = document.documentElement.lang || 'zh-CN';
  return d.toLocaleString(lang, {
    year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
  });
}
