// Thin fetch wrapper for the Weir JSON API.
//
// - Sends the session cookie (same-origin) and, on state-changing requests,
//   the CSRF token, which lives in this module's memory only.
// - Turns `application/problem+json` answers into ApiError with the
//   problem's `detail` (or `title`) as message.
// - Any 401 (session expired or signed out elsewhere) calls the handler
//   registered by app.js, which shows the sign-in page.

export const BASE = '/api/v1/integration';

let csrfToken = null;
let unauthorizedHandler = () => {};

export function setCsrfToken(token) {
  csrfToken = token || null;
}

export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

/** A 422's `errors` ({field: [messages]}) as "field: message; …" text. */
function fieldErrors(errors) {
  if (!errors || typeof errors !== 'object') return '';
  return Object.entries(errors)
    .map(([field, msgs]) => `${field}: ${Array.isArray(msgs) ? msgs.join(', ') : String(msgs)}`)
    .join('; ');
}

export class ApiError extends Error {
  constructor(status, problem) {
    const p = problem || {};
    const base = p.detail || p.title || (status ? `Request failed (HTTP ${status})` : 'Request failed');
    const fields = fieldErrors(p.errors);
    super(fields ? `${base} (${fields})` : base);
    this.status = status;
    this.problem = p;
  }
}

/** Builds `path?query`, leaving out empty values. Only for paths we write. */
export function url(path, query) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/**
 * Performs a request and returns the parsed JSON body (null for 204).
 * `opts.allow401` keeps a 401 from signing the user out (sign-in, boot check).
 */
export async function request(method, path, { query, body, allow401 = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let res;
  try {
    res = await fetch(url(path, query), init);
  } catch {
    throw new ApiError(0, { detail: 'Could not reach the Weir server. Check your connection and try again.' });
  }

  const type = res.headers.get('Content-Type') || '';
  let json = null;
  if (res.status !== 204 && type.includes('json')) {
    try {
      json = await res.json();
    } catch {
      json = null;
    }
  }
  if (res.ok) return json;

  if (res.status === 401 && !allow401) unauthorizedHandler();
  throw new ApiError(res.status, json);
}

export const get = (path, query, opts) => request('GET', path, { ...opts, query });
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

/** A 1-based page number from the URL (anything else → 1). */
export function pageParam(value) {
  const n = Math.trunc(Number(value));
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

/**
 * GET of a list endpoint: `{data, meta}` with `meta.total_pages` filled in
 * when the server leaves it out.
 */
export async function getList(path, query) {
  const res = await get(path, query);
  const data = Array.isArray(res?.data) ? res.data : [];
  const meta = { page: 1, per_page: data.length, total: data.length, ...(res?.meta || {}) };
  if (meta.total_pages == null) {
    meta.total_pages = meta.per_page > 0 ? Math.max(1, Math.ceil(meta.total / meta.per_page)) : 1;
  }
  return { data, meta };
}
