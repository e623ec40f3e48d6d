// DOM building and formatting helpers.
//
// Everything the UI shows is built with h(): strings become text nodes, so
// data from outside systems can never turn into markup. Attribute values are
// set with setAttribute; `on…` keys only accept functions (added as event
// listeners, never as inline handler attributes) and href/src only accept
// same-origin paths we built ("/…" or "#…").

const URL_ATTRS = new Set(['href', 'src', 'action', 'formaction', 'xlink:href']);

function isSafeUrl(value) {
  const s = String(value);
  return s.startsWith('#') || (s.startsWith('/') && !s.startsWith('//'));
}

/** Appends children: nodes as is, strings/numbers as text, arrays flattened. */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false || child === true) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (child instanceof Node) parent.appendChild(child);
    else parent.appendChild(document.createTextNode(String(child)));
  }
  return parent;
}

/** h('a', {href: '#/x', class: 'link'}, 'text', otherNode) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on')) {
      if (typeof value === 'function') el.addEventListener(key.slice(2).toLowerCase(), value);
      continue;
    }
    if (key === 'style' || typeof value === 'function') continue; // CSP: classes only
    if (URL_ATTRS.has(key) && !isSafeUrl(value)) continue;
    if (key === 'class') el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  return append(el, children);
}

const FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]:not([tabindex="-1"])';

/** Where the focus is inside `el` (which is re-rendered), so it can be put back. */
function focusSpot(el) {
  const active = document.activeElement;
  if (!active || active === el || !el.contains(active)) return null;
  if (active.id) return { id: active.id };
  // A table row keyed by a data-…-id attribute (data-event-id, data-sync-id, …).
  const row = active.closest('tr');
  const key = row && el.contains(row) ? [...row.attributes].find((a) => /^data-[a-z-]+-id$/.test(a.name)) : null;
  const scope = key ? row : el;
  return {
    row: key ? { name: key.name, value: key.value } : null,
    index: [...scope.querySelectorAll(FOCUSABLE)].indexOf(active),
  };
}

function restoreFocus(el, spot) {
  let target = null;
  if (spot.id) {
    target = document.getElementById(spot.id);
  } else {
    const scope = spot.row ? el.querySelector(`tr[${spot.row.name}="${CSS.escape(spot.row.value)}"]`) : el;
    if (scope) {
      const all = [...scope.querySelectorAll(FOCUSABLE)];
      target = all[spot.index] || (spot.row ? all[0] : null);
    }
  }
  if (target && el.contains(target)) target.focus({ preventScroll: true });
}

/**
 * Replaces an element's children. If the keyboard focus was inside (a live
 * refresh re-rendering a table the user is tabbing through), it goes back to
 * the same control (same id, or same place in the same keyed row).
 */
export function mount(el, ...children) {
  const spot = focusSpot(el);
  el.replaceChildren();
  append(el, children);
  if (spot) restoreFocus(el, spot);
  return el;
}

// ---------------------------------------------------------------- formatting

export const DASH = '—';

export const isBlank = (v) => v === null || v === undefined || v === '';

/** The value as text, or an em dash when missing. */
export function show(v) {
  if (isBlank(v)) return DASH;
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** Integer with thousands separators for reading (not for test ids). */
export function fmtNumber(n) {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString('en-US') : DASH;
}

/** A 0..1 fraction as a percentage with one decimal: 0.975 → "97.5%". */
export function fmtPercent(fraction) {
  return typeof fraction === 'number' && Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)}%` : DASH;
}

export function fmtDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return DASH;
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function fmtBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return DASH;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

// Times are shown in the viewer's zone, or in UTC when they chose it (the
// header's switch; kept in this browser's localStorage).
const ZONE_KEY = 'weir.time-zone';
let utc = false;
try {
  utc = localStorage.getItem(ZONE_KEY) === 'utc';
} catch {
  /* storage refused: local time */
}

/** Whether times are shown in UTC (else in the viewer's zone). */
export const timesInUtc = () => utc;

/** Shows times in UTC (`true`) or the viewer's zone, from now on, and remembers it. */
export function setTimesInUtc(on) {
  utc = !!on;
  try {
    localStorage.setItem(ZONE_KEY, utc ? 'utc' : 'local');
  } catch {
    /* not remembered */
  }
}

/** <time> in the viewer's locale and zone (or UTC), the zone named (e.g. "CET"), with the exact UTC instant as tooltip. */
export function time(iso) {
  if (isBlank(iso)) return DASH;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const text = d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short',
    timeZone: utc ? 'UTC' : undefined,
  });
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, text);
}

/** Compact one-line JSON for tables (details, changes). */
export function compactJson(v) {
  if (isBlank(v)) return DASH;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// --------------------------------------------------------------------- dates

/** YYYY-MM-DD of the UTC day `daysAgo` days before today (the API's days are UTC). */
export function utcDay(daysAgo = 0) {
  const d = new Date();
  d.setUTCDate(d.getUTCDate() - daysAgo);
  return d.toISOString().slice(0, 10);
}

export const isDay = (s) => /^\d{4}-\d{2}-\d{2}$/.test(s || '');

// ------------------------------------------------------------------- timing

/**
 * Calls fn at most once per `ms`: the first call runs at once, calls within
 * the window collapse into one trailing call.
 */
export function rateLimit(fn, ms = 1000) {
  let last = 0;
  let timer = null;
  const run = () => {
    timer = null;
    last = Date.now();
    fn();
  };
  const limited = () => {
    if (timer) return;
    const wait = last + ms - Date.now();
    if (wait <= 0) run();
    else timer = setTimeout(run, wait);
  };
  limited.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return limited;
}

/**
 * Wraps an async loader so that only the latest call may write to the page:
 * fn receives `current()`, false once a newer call started or the page left.
 */
export function latestOnly(ctx, fn) {
  let seq = 0;
  return (...args) => {
    const mine = ++seq;
    return fn(() => mine === seq && ctx.alive(), ...args);
  };
}
