// Reusable page pieces: banners, status pills, tables, pager, date range
// picker, key/value lists, copy button. All built with h() (text only).

import { h, mount, show, utcDay, isDay } from './dom.js';
import { BASE, getList } from './api.js';

// ------------------------------------------------------------------ banners

const errorBanner = () => document.getElementById('error-banner');
const flashBox = () => document.getElementById('flash');

/** Shows an API error's detail in the app-wide alert. 401s are handled by the router. */
export function showError(err, prefix) {
  if (err && err.status === 401) return;
  const message = (err && err.message) || String(err);
  mount(errorBanner(), prefix ? `${prefix}: ${message}` : message);
}

/** Shows a success message in the app-wide status region (#flash); an older error goes. */
export function flash(...children) {
  mount(errorBanner());
  mount(flashBox(), ...children);
}

export function clearBanners() {
  mount(errorBanner());
  mount(flashBox());
}

export const clearError = () => mount(errorBanner());

// -------------------------------------------------------------- small bits

const TONES = {
  ok: ['healthy', 'completed', 'succeeded', 'success', 'approved', 'active', 'valid', 'ok'],
  warn: ['degraded', 'partial', 'retrying', 'pending_approval'],
  bad: ['failing', 'failed', 'rejected', 'invalid', 'error', 'timeout'],
  info: ['queued', 'running', 'processing', 'pending', 'received'],
  muted: ['inactive', 'cancelled', 'canceled', 'ignored', 'skipped'],
};

/** Coloured status label; the tone class comes from our own table, not the data. */
export function pill(status) {
  const s = String(status ?? '').toLowerCase();
  const tone = Object.keys(TONES).find((t) => TONES[t].includes(s)) || 'muted';
  return h('span', { class: `pill pill-${tone}`, 'data-status': status ?? '' }, show(status));
}

export const loading = (text = 'Loading…') => h('p', { class: 'loading' }, text);

export const empty = (...children) => h('div', { class: 'empty' }, ...children);

/** A titled block of a page. */
export function section(title, ...children) {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

/** <dl> of [label, value] pairs; values may be nodes. */
export function kvList(pairs) {
  return h('dl', { class: 'kv' }, pairs.map(([k, v]) => [h('dt', null, k), h('dd', null, v instanceof Node ? v : show(v))]));
}

/** Labelled form field. */
export function field(label, id, control) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), control);
}

export function select(id, options, value) {
  return h('select', { id, name: id },
    options.map(([v, label]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, label)));
}

/** Link to a same-origin API download (cookie auth works for GET). */
export function downloadLink(id, label, path) {
  return h('a', { id, class: 'button button-secondary', href: path, download: '' }, label);
}

// ------------------------------------------------------------------- tables

/**
 * columns: [{label, cell: row => node|string, class?}]; rowAttrs: row => attrs.
 * The table sits in a wrapper that scrolls horizontally on narrow screens.
 */
export function dataTable({ id, caption, columns, rows, rowAttrs, emptyText }) {
  if (!rows.length && emptyText) return empty(emptyText);
  // The wrapper scrolls sideways on narrow screens: focusable, so keyboard
  // users can scroll it too, and named after its table.
  return h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption || 'Table' },
    h('table', { id },
      caption ? h('caption', { class: 'sr-only' }, caption) : null,
      h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', null, rows.map((row) =>
        h('tr', rowAttrs ? rowAttrs(row) : null, columns.map((c) => {
          const v = c.cell(row);
          return h('td', { class: c.class }, v instanceof Node ? v : show(v));
        }))))));
}

/** Previous / Next pager for `{page, total_pages, total}` meta. */
export function pager(meta, onPage) {
  const page = Number(meta.page) || 1;
  const pages = Number(meta.total_pages) || 1;
  return h('nav', { class: 'pager', 'aria-label': 'Pagination' },
    h('button', { type: 'button', class: 'button button-secondary', disabled: page <= 1, onclick: () => onPage(page - 1) }, '← Previous'),
    h('span', { class: 'pager-info' }, `Page ${page} of ${pages} · ${meta.total ?? 0} total`),
    h('button', { type: 'button', class: 'button button-secondary', disabled: page >= pages, onclick: () => onPage(page + 1) }, 'Next →'));
}

// -------------------------------------------------------- date range picker

const PRESETS = [['Today', 0], ['7 days', 6], ['30 days', 29], ['90 days', 89]];

/**
 * Two date inputs (#range-from, #range-to) with preset buttons. Values are
 * YYYY-MM-DD UTC days. `onChange({from, to})` fires on edits and presets
 * (only when from ≤ to). `allowAny` adds an "Any time" preset that clears both.
 */
export function dateRange({ from, to, onChange, allowAny = false }) {
  const fromInput = h('input', { type: 'date', id: 'range-from', name: 'from', value: from || '' });
  const toInput = h('input', { type: 'date', id: 'range-to', name: 'to', value: to || '' });
  const note = h('span', { class: 'range-note', 'aria-live': 'polite' });

  const changed = () => {
    const range = { from: fromInput.value, to: toInput.value };
    const bad = isDay(range.from) && isDay(range.to) && range.from > range.to;
    mount(note, bad ? '“From” must not be after “To”.' : '');
    if (!bad && onChange) onChange(range);
  };
  const set = (f, t) => {
    fromInput.value = f;
    toInput.value = t;
    changed();
  };
  fromInput.addEventListener('change', changed);
  toInput.addEventListener('change', changed);

  const presets = PRESETS.map(([label, days]) =>
    h('button', { type: 'button', class: 'chip', onclick: () => set(utcDay(days), utcDay(0)) }, label));
  if (allowAny) presets.push(h('button', { type: 'button', class: 'chip', onclick: () => set('', '') }, 'Any time'));

  const el = h('fieldset', { class: 'range' },
    h('legend', null, 'Date range (UTC days)'),
    field('From', 'range-from', fromInput),
    field('To', 'range-to', toInput),
    h('div', { class: 'presets', role: 'group', 'aria-label': 'Presets' }, presets),
    note);
  el.getRange = () => ({ from: fromInput.value, to: toInput.value });
  return el;
}

// -------------------------------------------------------------- copy button

/** "Copy" button for `text`; falls back to selecting `target`'s text. */
export function copyButton(text, target, label = 'Copy') {
  const button = h('button', { type: 'button', class: 'button button-small button-secondary' }, label);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      mount(button, 'Copied');
    } catch {
      const range = document.createRange();
      range.selectNodeContents(target);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      mount(button, 'Press Ctrl+C');
    }
    setTimeout(() => mount(button, label), 2000);
  });
  return button;
}

// ---------------------------------------------------------- shared lookups

/** The tenant's connectors (first 100) as a Map id → connector. */
export async function connectorMap() {
  const { data } = await getList(`${BASE}/connectors`, { per_page: 100 });
  return new Map(data.map((c) => [c.id, c]));
}

/** Adds one <option> per connector to a filter <select>. */
export function fillConnectorSelect(selectEl, connectors, selected) {
  for (const c of connectors.values()) {
    selectEl.append(h('option', { value: c.id, selected: c.id === selected }, `${c.name || c.code} (${c.code})`));
  }
}

/** A filter that only arrives through the URL (e.g. a receiver id), with a Remove button. */
export function removableFilter(label, value, onRemove) {
  const el = h('div', { class: 'field' }, h('span', { class: 'field-label' }, label),
    h('span', { class: 'chip-static' }, h('code', null, value), ' ',
      h('button', { type: 'button', class: 'button button-small button-secondary', onclick: () => { onRemove(); el.remove(); } }, 'Remove')));
  return el;
}

/** Connector name link for tables, falling back to the id. */
export function connectorLink(id, connectors) {
  if (!id) return '—';
  const c = connectors && connectors.get(id);
  return h('a', { href: `#/connectors/${encodeURIComponent(id)}` }, c ? c.name || c.code : id);
}
