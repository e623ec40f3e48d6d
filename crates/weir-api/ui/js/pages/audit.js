// Audit log (admin): filterable list of the tenant's hash-chained audit
// trail, chain verification and CSV/JSON export of the current filters.

import { BASE, get, getList, pageParam, url } from '../api.js';
import { h, mount, show, time, compactJson, latestOnly } from '../dom.js';
import { dataTable, dateRange, downloadLink, empty, field, loading, pager, pill, showError, clearError } from '../widgets.js';

const PER_PAGE = 50;

/** "connector 0193…" from whichever target fields the entry carries. */
function target(a) {
  const type = a.resource_type ?? a.target_type;
  const id = a.resource_id ?? a.target_id ?? a.target;
  if (!type && !id) return '—';
  return h('span', null, type ? `${type} ` : '', id ? h('code', null, compactJson(id)) : '');
}

export function render(ctx) {
  const filters = { action: ctx.query.get('action') || '', from: ctx.query.get('from') || '', to: ctx.query.get('to') || '' };
  let page = pageParam(ctx.query.get('page'));
  const body = h('div', null, loading());
  const verifyResult = h('div', { id: 'audit-verify-result', class: 'verify-result', 'aria-live': 'polite' });
  const csv = downloadLink('audit-export-csv', 'Export CSV', '#');
  const json = downloadLink('audit-export-json', 'Export JSON', '#');

  const setExportLinks = () => {
    csv.setAttribute('href', url(`${BASE}/audit-logs/export`, { format: 'csv', ...filters }));
    json.setAttribute('href', url(`${BASE}/audit-logs/export`, { format: 'json', ...filters }));
  };

  const load = latestOnly(ctx, async (current) => {
    try {
      const { data, meta } = await getList(`${BASE}/audit-logs`, { ...filters, page, per_page: PER_PAGE });
      if (!current()) return;
      if (!data.length && meta.total > 0 && page > 1) {
        // A page past the end (an old link): show the last one.
        page = meta.total_pages;
        ctx.setQuery({ ...filters, page });
        load();
        return;
      }
      clearError();
      mount(body,
        dataTable({
          id: 'audit-table',
          caption: 'Audit entries',
          columns: [
            { label: 'Time', cell: (a) => time(a.created_at) },
            { label: 'Seq', class: 'num', cell: (a) => a.seq },
            { label: 'Action', cell: (a) => h('code', null, show(a.action)) },
            { label: 'Actor', class: 'cell-wrap', cell: (a) => a.actor_name ?? compactJson(a.actor ?? a.actor_id) },
            { label: 'Target', class: 'cell-wrap', cell: target },
            { label: 'Details', class: 'cell-details', cell: (a) => (a.details == null ? '—' : h('code', { class: 'json-inline' }, compactJson(a.details))) },
          ],
          rows: data,
          rowAttrs: (a) => ({ 'data-audit-id': a.id }),
          emptyText: filters.action || filters.from || filters.to
            ? 'No audit entries match these filters.'
            : 'No audit entries yet — changes to connectors, receivers, syncs and tokens are recorded here.',
        }),
        meta.total_pages > 1 ? pager(meta, (p) => { page = p; ctx.setQuery({ ...filters, page: p }); load(); }) : null);
    } catch (err) {
      if (!current()) return;
      if (err.status === 403) {
        adminOnly();
      } else {
        showError(err, 'Could not load the audit log');
        mount(body, empty('The audit log could not be loaded.'));
      }
    }
  });

  const verify = h('button', { id: 'audit-verify', type: 'button', class: 'button button-secondary' }, 'Verify chain');
  verify.addEventListener('click', async () => {
    verify.disabled = true;
    mount(verifyResult, loading('Verifying the hash chain…'));
    try {
      const res = await get(`${BASE}/audit-logs/verify`);
      const v = res?.data || {};
      clearError();
      const count = v.entries ?? v.checked;
      mount(verifyResult, v.valid
        ? h('p', null, pill('valid'), ` The chain is intact${count != null ? ` — ${count} entries checked` : ''}.`)
        : h('p', null, pill('invalid'), ' The chain is broken',
          v.first_invalid_seq != null ? ` at entry #${v.first_invalid_seq}` : '', '. Entries may have been altered or removed.'));
    } catch (err) {
      mount(verifyResult);
      showError(err, 'Could not verify the chain');
    } finally {
      verify.disabled = false;
    }
  });

  const action = h('input', { id: 'filter-action', name: 'action', type: 'text', value: filters.action, placeholder: 'e.g. connector.updated' });
  const range = dateRange({ from: filters.from, to: filters.to, allowAny: true });
  const form = h('form', { id: 'audit-filter', class: 'filters' },
    field('Action', 'filter-action', action),
    range,
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'button' }, 'Apply')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const r = range.getRange();
    if (r.from && r.to && r.from > r.to) return;
    Object.assign(filters, { action: action.value.trim(), from: r.from, to: r.to });
    page = 1;
    ctx.setQuery(filters);
    setExportLinks();
    load();
  });

  const adminOnly = () => {
    for (const el of [verify, csv, json, form]) el.hidden = true;
    mount(body, empty(h('strong', null, 'The audit log needs the admin role.'), ` You are signed in as ${show(ctx.session.role)}.`));
  };

  setExportLinks();
  mount(ctx.main, h('section', { class: 'page' },
    h('header', { class: 'page-head' }, h('h1', null, 'Audit log'), h('div', { class: 'actions' }, verify, csv, json)),
    verifyResult, form, body));
  // Admin only: other roles get the note without a refused request.
  if (ctx.isAdmin) load();
  else adminOnly();
}
