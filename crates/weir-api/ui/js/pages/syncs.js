// Sync histories: filterable list of runs and a run's detail (counts,
// errors, export, cancel). Both refresh live on sync.* events.

import { BASE, get, getList, pageParam, post, url } from '../api.js';
import { h, mount, show, time, fmtNumber, fmtDuration, fmtBytes, rateLimit, latestOnly } from '../dom.js';
import {
  connectorLink, connectorMap, dataTable, fillConnectorSelect, removableFilter, dateRange, downloadLink, empty, field, flash, kvList, loading, pager, pill,
  section, select, showError, clearError,
} from '../widgets.js';

const PER_PAGE = 25;
const STATUSES = [['', 'Any'], ['queued', 'Queued'], ['running', 'Running'], ['succeeded', 'Succeeded'],
  ['partial', 'Partial'], ['failed', 'Failed'], ['cancelled', 'Cancelled']];
const FILTER_KEYS = ['status', 'connector_id', 'sync_configuration_id', 'from', 'to'];
const LIVE_EVENTS = ['sync.started', 'sync.progress', 'sync.finished'];
const runPath = (id) => `${BASE}/sync-histories/${encodeURIComponent(id)}`;

// --------------------------------------------------------------------- list

export function renderList(ctx) {
  const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, ctx.query.get(k) || '']));
  let page = pageParam(ctx.query.get('page'));
  let connectors = new Map();
  let configurations = new Map(); // id → name, for the Configuration column
  let refused = false; // the API refused the current filters (4xx)
  const body = h('div', null, loading());

  const load = latestOnly(ctx, async (current) => {
    try {
      const { data, meta } = await getList(`${BASE}/sync-histories`, { ...filters, page, per_page: PER_PAGE });
      if (!current()) return;
      refused = false;
      if (!data.length && meta.total > 0 && page > 1) {
        // A page past the end (an old link): show the last one.
        page = meta.total_pages;
        ctx.setQuery({ ...filters, page });
        load();
        return;
      }
      clearError();
      const filtered = FILTER_KEYS.some((k) => filters[k]);
      mount(body,
        dataTable({
          id: 'syncs-table',
          caption: 'Sync runs',
          columns: [
            { label: 'Queued', cell: (r) => h('a', { href: `#/syncs/${encodeURIComponent(r.id)}` }, time(r.queued_at ?? r.started_at)) },
            { label: 'Configuration', cell: (r) => configurationName(r.sync_configuration_id, configurations) },
            { label: 'Connector', cell: (r) => connectorLink(r.connector_id, connectors) },
            { label: 'Trigger', cell: (r) => r.trigger },
            { label: 'Status', cell: (r) => pill(r.status) },
            { label: 'Read', class: 'num', cell: (r) => fmtNumber(r.records_read) },
            { label: 'Created', class: 'num', cell: (r) => fmtNumber(r.records_created) },
            { label: 'Updated', class: 'num', cell: (r) => fmtNumber(r.records_updated) },
            { label: 'Failed', class: 'num', cell: (r) => fmtNumber(r.records_failed) },
            { label: 'Duration', class: 'num', cell: (r) => fmtDuration(r.duration_ms) },
          ],
          rows: data,
          rowAttrs: (r) => ({ 'data-sync-id': r.id }),
        }),
        data.length ? null : empty(filtered
          ? 'No sync runs match these filters.'
          : 'No sync runs yet — run a sync configuration with “Run now” on its connector page, or wait for its schedule.'),
        meta.total_pages > 1 ? pager(meta, (p) => { page = p; ctx.setQuery({ ...filters, page: p }); load(); }) : null);
    } catch (err) {
      if (!current()) return;
      // A refused query (e.g. a hand-edited URL: 422) is not retried on every live event.
      refused = err.status >= 400 && err.status < 500;
      showError(err, 'Could not load sync histories');
      mount(body, empty('The sync histories could not be loaded.'));
    }
  });

  const status = select('filter-status', STATUSES, filters.status);
  const connector = select('filter-connector', [['', 'Any']], filters.connector_id);
  const range = dateRange({ from: filters.from, to: filters.to, allowAny: true });
  const form = h('form', { id: 'syncs-filter', class: 'filters' },
    field('Status', 'filter-status', status),
    field('Connector', 'filter-connector', connector),
    range,
    filters.sync_configuration_id ? removableFilter('Configuration', filters.sync_configuration_id, () => { filters.sync_configuration_id = ''; }) : null,
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'button' }, 'Apply')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const r = range.getRange();
    if (r.from && r.to && r.from > r.to) return;
    Object.assign(filters, { status: status.value, connector_id: connector.value, from: r.from, to: r.to });
    page = 1;
    ctx.setQuery(filters);
    load();
  });

  mount(ctx.main, h('section', { class: 'page' },
    h('header', { class: 'page-head' }, h('h1', null, 'Sync histories')), form, body));

  connectorMap()
    .then((map) => {
      if (!ctx.alive()) return;
      connectors = map;
      fillConnectorSelect(connector, map, filters.connector_id);
      if (!refused) load(); // show connector names
    })
    .catch(() => {});
  getList(`${BASE}/sync-configurations`, { per_page: 100 })
    .then(({ data }) => {
      if (!ctx.alive()) return;
      configurations = new Map(data.map((c) => [c.id, c.name]));
      if (!refused) load(); // show configuration names
    })
    .catch(() => {});
  load();

  const refresh = rateLimit(() => { if (page === 1 && !refused) load(); }, 1000);
  ctx.onCleanup(refresh.cancel);
  ctx.live(LIVE_EVENTS, refresh);
}

// ------------------------------------------------------------------- detail

export function renderDetail(ctx) {
  const [id] = ctx.params;
  const head = h('header', { class: 'page-head' }, h('h1', null, 'Sync run'));
  const summary = h('div', { class: 'stack' }, loading());
  const errorsBox = h('div', null, loading());
  let errorsPage = 1;
  let connector; // fetched once, for its name
  let configuration; // likewise

  const cancel = async (button) => {
    button.disabled = true;
    try {
      await post(`${runPath(id)}/cancel`);
      flash('Cancellation requested.');
      load();
    } catch (err) {
      showError(err, 'Could not cancel the run');
      button.disabled = false;
    }
  };

  const load = latestOnly(ctx, async (current) => {
    try {
      const res = await get(runPath(id));
      const r = res.data || {};
      if (connector === undefined && r.connector_id) {
        connector = await get(`${BASE}/connectors/${encodeURIComponent(r.connector_id)}`).then((x) => x.data, () => null);
      }
      if (configuration === undefined && r.sync_configuration_id) {
        // A deleted configuration is 404: its id is shown instead.
        configuration = await get(`${BASE}/sync-configurations/${encodeURIComponent(r.sync_configuration_id)}`).then((x) => x.data, () => null);
      }
      if (!current()) return;
      const cancellable = ctx.canOperate && (r.status === 'queued' || r.status === 'running') && !r.cancel_requested;
      const cancelButton = cancellable ? h('button', { id: 'sync-cancel', type: 'button', class: 'button button-danger' }, 'Cancel run') : null;
      if (cancelButton) cancelButton.addEventListener('click', () => cancel(cancelButton));
      mount(head,
        h('h1', null, 'Sync run ', pill(r.status)),
        h('div', { class: 'actions' },
          downloadLink('sync-export-csv', 'Export CSV', url(`${runPath(id)}/export`, { format: 'csv' })),
          downloadLink('sync-export-json', 'Export JSON', url(`${runPath(id)}/export`, { format: 'json' })),
          cancelButton));
      mount(summary,
        h('div', { class: 'cards' }, [
          ['records_read', 'Read'], ['records_created', 'Created'], ['records_updated', 'Updated'], ['records_failed', 'Failed'],
        ].map(([k, label]) => h('div', { class: k === 'records_failed' && r[k] > 0 ? 'card card-bad' : 'card' },
          h('div', { class: 'card-label' }, label),
          h('div', { class: 'card-value', 'data-testid': `sync-${k}` }, show(r[k]))))),
        r.error_type || r.error_message
          ? h('div', { class: 'error-box' }, h('p', null, h('code', null, show(r.error_type))), r.error_message ? h('p', null, r.error_message) : null)
          : null,
        section('Details', kvList([
          ['Connector', connectorLink(r.connector_id, connector ? new Map([[connector.id, connector]]) : null)],
          ['Configuration', r.sync_configuration_id
            ? h('span', null, configuration?.name ? configuration.name : h('code', null, r.sync_configuration_id), ' ',
              h('a', { href: `#/syncs?sync_configuration_id=${encodeURIComponent(r.sync_configuration_id)}` }, 'its runs'))
            : undefined],
          ['Trigger', r.trigger],
          ['Queued', time(r.queued_at)],
          ['Started', time(r.started_at)],
          ['Finished', time(r.finished_at)],
          ['Duration', fmtDuration(r.duration_ms)],
          ['Pages', r.pages],
          ['Bytes', fmtBytes(r.bytes)],
          ['Cancel requested', r.cancel_requested],
          ['Id', h('code', null, show(r.id))],
        ])));
    } catch (err) {
      if (!current()) return;
      showError(err, 'Could not load the sync run');
      mount(summary, empty(err.status === 404 ? 'This sync run does not exist.' : 'The sync run could not be loaded.'));
    }
  });

  const loadErrors = latestOnly(ctx, async (current) => {
    try {
      const { data, meta } = await getList(`${runPath(id)}/errors`, { page: errorsPage, per_page: 50 });
      if (!current()) return;
      mount(errorsBox,
        dataTable({
          id: 'sync-errors-table',
          caption: 'Per-record errors',
          columns: [
            { label: 'Time', cell: (e) => time(e.created_at) },
            { label: 'Type', cell: (e) => h('code', null, show(e.error_type)) },
            { label: 'Record', cell: (e) => show(e.record_ref ?? e.reference) },
            { label: 'Message', class: 'cell-wrap', cell: (e) => e.message },
            { label: 'Excerpt', class: 'cell-details', cell: (e) => (e.excerpt == null ? '—' : h('code', { class: 'json-inline' }, typeof e.excerpt === 'string' ? e.excerpt : JSON.stringify(e.excerpt))) },
          ],
          rows: data,
          emptyText: 'No per-record errors in this run.',
        }),
        meta.total_pages > 1 ? pager(meta, (p) => { errorsPage = p; loadErrors(); }) : null);
    } catch (err) {
      if (!current()) return;
      showError(err, 'Could not load the run’s errors');
      mount(errorsBox, empty('The errors could not be loaded.'));
    }
  });

  mount(ctx.main, h('section', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/syncs' }, '← Sync histories')),
    head, summary, section('Per-record errors', errorsBox)));
  load();
  loadErrors();

  const refresh = rateLimit(load, 1000);
  ctx.onCleanup(refresh.cancel);
  ctx.live(LIVE_EVENTS, (name, data) => {
    if (data && data.sync_history_id !== id) return;
    refresh();
    if (name === 'sync.finished' || name === 'live.reconnected') loadErrors();
  });
}

/** A run's configuration by name, linked to its runs; a deleted one by its id. */
function configurationName(id, names) {
  if (!id) return '—';
  const name = names.get(id);
  return h('a', { href: `#/syncs?sync_configuration_id=${encodeURIComponent(id)}` }, name || h('code', null, id));
}
