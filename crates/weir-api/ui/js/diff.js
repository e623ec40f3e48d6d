// What a change request would change: field by field, before and after,
// against the connector as it is now (config compared key by key, so a
// timeout change reads "config.timeout_ms 10000 → 5000", not two JSON blobs).

import { h, show } from './dom.js';

function flatten(value, prefix, out) {
  if (value && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, `${prefix}.${k}`, out);
  } else {
    out.set(prefix, value === undefined ? undefined : typeof value === 'string' ? value : JSON.stringify(value));
  }
  return out;
}

/** [field, before, after] for each field `changes` would change on `connector`. */
export function changeRows(changes, connector) {
  const rows = [];
  for (const [key, after] of Object.entries(changes || {})) {
    if (key === 'config') {
      const was = flatten(connector?.config || {}, 'config', new Map());
      const will = flatten(after || {}, 'config', new Map());
      for (const field of new Set([...was.keys(), ...will.keys()])) {
        if (was.get(field) !== will.get(field)) rows.push([field, was.get(field), will.get(field)]);
      }
    } else if (key === 'credentials') {
      rows.push(['credentials', connector?.has_credentials ? 'stored' : 'none', after]);
    } else if (connector?.[key] !== after) {
      rows.push([key, connector?.[key], after]);
    }
  }
  return rows;
}

/** The rows as a small before/after table. */
export function diffTable(rows, id) {
  if (!rows.length) return h('span', { class: 'muted' }, 'No difference from the connector as it is now.');
  return h('table', { class: 'diff', id },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Now'), h('th', { scope: 'col' }, 'After approval'))),
    h('tbody', null, rows.map(([field, before, after]) => h('tr', { 'data-field': field },
      h('th', { scope: 'row' }, h('code', null, field)),
      h('td', null, h('del', null, show(before))),
      h('td', null, h('ins', null, show(after)))))));
}
