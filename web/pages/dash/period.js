// The dashboard's period: last 30 days, this or last month, this or last quarter, or a custom
// from-to (dates inclusive). All boundaries are UTC dates, as everywhere in chipkit.
export const PERIODS = ['30d', 'month', 'lastmonth', 'quarter', 'lastquarter', 'custom'];
const DAY = 86400;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function utc(y, m, d = 1) {
  return Math.floor(Date.UTC(y, m, d) / 1000);
}

/** 'YYYY-MM-DD' -> Unix seconds at 00:00 UTC, or null. */
export function parseDay(s) {
  if (!DATE.test(s || '')) return null;
  const t = Date.parse(s + 'T00:00:00Z');
  return Number.isNaN(t) ? null : Math.floor(t / 1000);
}

/** Unix seconds -> 'YYYY-MM-DD' (UTC). */
export function day(t) {
  return new Date(t * 1000).toISOString().slice(0, 10);
}

/**
 * {since, until} (Unix seconds, until exclusive) for a period kind, or {error} for a custom
 * range that is incomplete or backwards.
 */
export function range(kind, from, to, now = Date.now()) {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const q = m - (m % 3);
  switch (kind) {
    case 'month':
      return { since: utc(y, m), until: utc(y, m + 1) };
    case 'lastmonth':
      return { since: utc(y, m - 1), until: utc(y, m) };
    case 'quarter':
      return { since: utc(y, q), until: utc(y, q + 3) };
    case 'lastquarter':
      return { since: utc(y, q - 3), until: utc(y, q) };
    case 'custom': {
      const a = parseDay(from);
      const b = parseDay(to);
      if (a === null || b === null) return { error: 'period.incomplete' };
      if (a > b) return { error: 'period.backwards' };
      return { since: a, until: b + DAY };
    }
    default: {
      const until = Math.floor(now / 1000) + 1;
      return { since: until - 30 * DAY, until };
    }
  }
}
