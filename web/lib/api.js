// The JSON API, same origin. State-changing requests carry the session's CSRF token
// (X-CSRF-Token): from setCsrf() (a login response), the page's boot data, or sessionStorage.
import { boot } from './ui.js';

export class ApiError extends Error {
  constructor(status, error, detail) {
    super(detail || error || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.error = error;
    this.detail = detail;
  }
}

let csrfToken = null;
const KEY = 'ck_csrf';

export function setCsrf(token) {
  csrfToken = token || null;
  try {
    if (token) sessionStorage.setItem(KEY, token);
    else sessionStorage.removeItem(KEY);
  } catch (e) {
    /* storage disabled: the in-memory token still works on this page */
  }
}

export function csrf() {
  if (csrfToken) return csrfToken;
  const b = boot();
  if (b && b.csrf) return b.csrf;
  try {
    return sessionStorage.getItem(KEY);
  } catch (e) {
    return null;
  }
}

/**
 * api('/api/v1/household') or api('household') -> parsed JSON.
 * {method, body (JSON), form (FormData), signal}. Throws ApiError{status, error, detail}.
 */
export async function api(path, { method, body, form, signal } = {}) {
  const url = path.startsWith('/') ? path : '/api/v1/' + path;
  const m = (method || (body !== undefined || form ? 'POST' : 'GET')).toUpperCase();
  const headers = { Accept: 'application/json' };
  let payload;
  if (form) payload = form;
  else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (m !== 'GET' && m !== 'HEAD') {
    const tok = csrf();
    if (tok) headers['X-CSRF-Token'] = tok;
  }
  let r;
  try {
    r = await fetch(url, { method: m, headers, body: payload, credentials: 'same-origin', signal });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'network error');
  }
  const type = r.headers.get('content-type') || '';
  const data = type.includes('json') ? await r.json().catch(() => null) : null;
  if (!r.ok) {
    const err = new ApiError(r.status, data && data.error, data && data.detail);
    err.retryAfter = Number(r.headers.get('retry-after')) || 0;
    throw err;
  }
  return data;
}
