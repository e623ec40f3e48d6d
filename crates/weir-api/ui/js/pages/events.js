// Webhook events: filterable list (filters in the hash query), single and
// bulk replay with an in-page confirmation, live refresh of page 1; and the
// event detail with its attempt log and payload (shown as text only).

import { BASE, get, getList, pageParam, post } from '../api.js';
import { h, mount, show, time, fmtBytes, rateLimit, latestOnly } from '../dom.js';
import {
  connectorLink, connectorMap, dataTable, fillConnectorSelect, removableFilter, dateRange, empty, field, flash, kvList, loading, pager, pill, section,
  select, showError, clearError,
} from '../widgets.js';

const PER_PAGE = 25;
// The statuses the events API filters by (`processing_status`).
const STATUSES = [['', 'Any'], ['pending', 'Pending'], ['processing', 'Processing'], ['completed', 'Completed'], ['failed', 'Failed']];
const FILTER_KEYS = ['status', 'connector_id', 'receiver_id', 'event_type', 'provider_event_id', 'from', 'to'];
const LIVE_EVENTS = ['event.received', 'event.processed', 'event.retrying', 'event.failed'];
// Any event not being processed (a pending one waiting for a retry runs now).
const REPLAYABLE = new Set(['failed', 'completed', 'pending']);

const eventStatus = (e) => e.status ?? e.processing_status;
const eventPath = (id) => `${BASE}/webhook-events/${encodeURIComponent(id)}`;

// --------------------------------------------------------------------- list

export function renderList(ctx) {
  const filters = Object.fromEntries(FILTER_KEYS.map((k) => [k, ctx.query.get(k) || '']));
  let page = pageParam(ctx.query.get('page'));
  let connectors = new Map();
  const body = h('div', null, loading());
  const bulk = h('div', { class: 'bulk' });

  let refused = false; // the API refused the current filters (4xx)
  const saveQuery = () => ctx.setQuery({ ...filters, page: page > 1 ? page : '' });

  const replayOne = async (id, button) => {
    button.disabled = true;
    try {
      await post(`${eventPath(id)}/replay`);
      flash('The event is queued for processing again.');
      load();
    } catch (err) {
      showError(err, 'Could not replay the event');
      button.disabled = false;
    }
  };

  const load = latestOnly(ctx, async (current) => {
    try {
      const { data, meta } = await getList(`${BASE}/webhook-events`, { ...filters, page, per_page: PER_PAGE });
      if (!current()) return;
      refused = false;
      if (!data.length && meta.total > 0 && page > 1) {
        // A page past the end (an old link): show the last one.
        page = meta.total_pages;
        saveQuery();
        load();
        return;
      }
      clearError();
      const filtered = FILTER_KEYS.some((k) => filters[k]);
      mount(body,
        dataTable({
          id: 'events-table',
          caption: 'Webhook events',
          columns: [
            { label: 'Received', cell: (e) => h('a', { href: `#/events/${encodeURIComponent(e.id)}` }, time(e.received_at ?? e.created_at)) },
            { label: 'Type', cell: (e) => h('code', null, show(e.event_type)) },
            { label: 'Connector', cell: (e) => connectorLink(e.connector_id, connectors) },
            { label: 'Status', cell: (e) => pill(eventStatus(e)) },
            { label: 'Attempts', class: 'num', cell: (e) => e.attempts },
            { label: 'Error', cell: (e) => (e.error_type ? h('code', null, e.error_type) : '—') },
            // Viewers cannot replay: no Actions column for them.
            ctx.canOperate ? {
              label: 'Actions',
              cell: (e) => {
                if (eventStatus(e) !== 'failed') return '';
                const b = h('button', { type: 'button', class: 'button button-small', 'data-replay': e.id }, 'Replay');
                b.addEventListener('click', () => replayOne(e.id, b));
                return b;
              },
            } : null,
          ].filter(Boolean),
          rows: data,
          rowAttrs: (e) => ({ 'data-event-id': e.id }),
        }),
        data.length ? null : empty(filtered
          ? 'No events match these filters.'
          : 'No webhook events yet — send one to a receiver’s receive URL (see a connector’s receivers).'),
        meta.total_pages > 1 ? pager(meta, (p) => { page = p; saveQuery(); load(); }) : null);
    } catch (err) {
      if (!current()) return;
      // A refused query (e.g. a hand-edited URL: 422) is not retried on every live event.
      refused = err.status >= 400 && err.status < 500;
      showError(err, 'Could not load events');
      mount(body, empty('The events could not be loaded.'));
    }
  });

  // Filter form; #filter-connector is filled once the connectors arrive.
  const known = STATUSES.some(([v]) => v === filters.status);
  const status = select('filter-status', known ? STATUSES : [...STATUSES, [filters.status, filters.status]], filters.status);
  const connector = select('filter-connector', [['', 'Any']], filters.connector_id);
  const type = h('input', { id: 'filter-type', name: 'event_type', type: 'text', value: filters.event_type, placeholder: 'e.g. order.created' });
  const providerId = h('input', { id: 'filter-provider-id', name: 'provider_event_id', type: 'search', value: filters.provider_event_id, placeholder: 'e.g. evt_1Nq…' });
  const range = dateRange({ from: filters.from, to: filters.to, allowAny: true });
  const form = h('form', { id: 'events-filter', class: 'filters' },
    field('Status', 'filter-status', status),
    field('Connector', 'filter-connector', connector),
    field('Event type', 'filter-type', type),
    field('Provider event id', 'filter-provider-id', providerId),
    range,
    filters.receiver_id ? removableFilter('Receiver', filters.receiver_id, () => { filters.receiver_id = ''; }) : null,
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'button' }, 'Apply')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const r = range.getRange();
    if (r.from && r.to && r.from > r.to) return;
    Object.assign(filters, { status: status.value, connector_id: connector.value, event_type: type.value.trim(), provider_event_id: providerId.value.trim(), from: r.from, to: r.to });
    page = 1;
    saveQuery();
    resetBulk();
    load();
  });

  // Bulk replay: first click counts the matching failed events, the second confirms.
  // `focus`: the confirmation had the keyboard focus; give it to the new button.
  const resetBulk = ({ focus = false } = {}) => {
    if (!ctx.canOperate) return;
    const start = h('button', { id: 'bulk-replay', type: 'button', class: 'button button-secondary' }, 'Replay filtered failed events');
    start.addEventListener('click', () => askBulk(start));
    mount(bulk, start);
    if (focus) start.focus();
  };
  const askBulk = async (start) => {
    start.disabled = true;
    const filter = { ...filters, status: 'failed' };
    try {
      const { meta } = await getList(`${BASE}/webhook-events`, { ...filter, per_page: 1 });
      if (!ctx.alive()) return;
      if (!meta.total) {
        flash('No failed events match the current filters.');
        start.disabled = false;
        return;
      }
      const confirm = h('button', { id: 'bulk-replay-confirm', type: 'button', class: 'button button-danger' },
        `Confirm replay of ${meta.total} event${meta.total === 1 ? '' : 's'}`);
      const cancel = h('button', { type: 'button', class: 'button button-secondary', onclick: () => resetBulk({ focus: true }) }, 'Cancel');
      confirm.addEventListener('click', () => runBulk(confirm, filter));
      mount(bulk, h('span', { class: 'bulk-question' }, 'Replay every failed event matching the filters?'), confirm, cancel);
      confirm.focus();
    } catch (err) {
      showError(err, 'Could not count the failed events');
      start.disabled = false;
    }
  };
  const runBulk = async (confirm, filter) => {
    confirm.disabled = true;
    const payload = Object.fromEntries(Object.entries(filter).filter(([, v]) => v));
    try {
      const res = await post(`${BASE}/webhook-events/replay`, payload);
      const n = res?.data?.replayed ?? 0;
      flash(`Replayed ${n} failed event${n === 1 ? ' — it is' : 's — they are'} queued for processing again.`);
      resetBulk({ focus: true });
      load();
    } catch (err) {
      showError(err, 'Bulk replay failed');
      resetBulk({ focus: true });
    }
  };

  mount(ctx.main, h('section', { class: 'page' },
    h('header', { class: 'page-head' }, h('h1', null, 'Webhook events'), bulk),
    form, body));
  resetBulk();

  connectorMap()
    .then((map) => {
      if (!ctx.alive()) return;
      connectors = map;
      fillConnectorSelect(connector, map, filters.connector_id);
      if (!refused) load(); // show connector names
    })
    .catch(() => {});
  load();

  // New and processed events appear without a reload while page 1 is shown.
  const refresh = rateLimit(() => { if (page === 1 && !refused) load(); }, 1000);
  ctx.onCleanup(refresh.cancel);
  ctx.live(LIVE_EVENTS, refresh);
}

// ------------------------------------------------------------------- detail

export function renderDetail(ctx) {
  const [id] = ctx.params;
  const head = h('header', { class: 'page-head' }, h('h1', null, 'Event'));
  const body = h('div', { class: 'stack' }, loading());
  let connector; // fetched once, for its name
  let receiver; // likewise
  mount(ctx.main, h('section', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/events' }, '← Webhook events')), head, body));

  const replay = async (button) => {
    button.disabled = true;
    try {
      await post(`${eventPath(id)}/replay`);
      flash('The event is queued for processing again.');
      load();
    } catch (err) {
      showError(err, 'Could not replay the event');
      button.disabled = false;
    }
  };

  const load = latestOnly(ctx, async (current) => {
    try {
      const res = await get(eventPath(id));
      const e = res.data || {};
      if (connector === undefined && e.connector_id) {
        connector = await get(`${BASE}/connectors/${encodeURIComponent(e.connector_id)}`).then((r) => r.data, () => null);
      }
      if (receiver === undefined && e.receiver_id) {
        // A deleted receiver is 404: its id is shown instead of its name.
        receiver = await get(`${BASE}/webhook-receivers/${encodeURIComponent(e.receiver_id)}`).then((r) => r.data, () => null);
      }
      if (!current()) return;
      const status = eventStatus(e);
      const button = ctx.canOperate && REPLAYABLE.has(status)
        ? h('button', { id: 'replay-event', type: 'button', class: 'button' }, 'Replay')
        : null;
      if (button) button.addEventListener('click', () => replay(button));
      mount(head, h('h1', null, 'Event ', h('code', null, show(e.event_type)), ' ', pill(status)), h('div', { class: 'actions' }, button));
      mount(body, ...eventSections(e, connector ? new Map([[connector.id, connector]]) : null, receiver));
    } catch (err) {
      if (!current()) return;
      showError(err, 'Could not load the event');
      mount(body, empty(err.status === 404 ? 'This event does not exist.' : 'The event could not be loaded.'));
    }
  });
  load();

  const refresh = rateLimit(load, 1000);
  ctx.onCleanup(refresh.cancel);
  ctx.live(LIVE_EVENTS, (name, data) => { if (!data || data.event_id === id) refresh(); });
}

function eventSections(e, connectors, receiver) {
  const log = Array.isArray(e.attempt_log) ? e.attempt_log : [];
  const known = new Set(['attempt', 'started_at', 'finished_at', 'outcome', 'error_type', 'error']);
  const hasPayload = e.payload !== undefined && e.payload !== null;
  return [
    section('Details', kvList([
      ['Id', h('code', null, show(e.id))],
      ['Status', pill(eventStatus(e))],
      ['Connector', connectorLink(e.connector_id, connectors)],
      ['Receiver', e.receiver_id
        ? h('span', null, receiver?.name ? receiver.name : h('code', null, e.receiver_id), ' ',
          h('a', { href: `#/events?receiver_id=${encodeURIComponent(e.receiver_id)}` }, 'its events'))
        : undefined],
      ['Provider event id', e.provider_event_id],
      ['Attempts', e.attempts],
      ['Received', time(e.received_at ?? e.created_at)],
      ['Processed', time(e.processed_at)],
      ['Payload size', fmtBytes(e.payload_size)],
      ['Payload SHA-256', e.payload_sha256 ? h('code', { class: 'hash' }, e.payload_sha256) : undefined],
    ])),
    e.error_type || e.error_message
      ? section('Last error', h('div', { class: 'error-box' },
        h('p', null, h('code', null, show(e.error_type))), e.error_message ? h('p', null, e.error_message) : null))
      : null,
    section('Attempt log', dataTable({
      id: 'attempt-log',
      caption: 'Attempt log',
      columns: [
        { label: '#', class: 'num', cell: (a) => a.attempt },
        { label: 'Started', cell: (a) => time(a.started_at) },
        { label: 'Finished', cell: (a) => time(a.finished_at) },
        { label: 'Outcome', cell: (a) => (a.outcome ? pill(a.outcome) : '—') },
        {
          label: 'Error',
          cell: (a) => (a.error_type || a.error
            ? h('span', null, a.error_type ? h('code', null, a.error_type) : null, a.error ? ` ${a.error}` : null)
            : '—'),
        },
        {
          label: 'More',
          cell: (a) => {
            const rest = Object.fromEntries(Object.entries(a || {}).filter(([k]) => !known.has(k)));
            return Object.keys(rest).length ? h('code', { class: 'json-inline' }, JSON.stringify(rest)) : '—';
          },
        },
      ],
      rows: log,
      emptyText: 'Not processed yet.',
    })),
    e.headers ? section('Headers', h('pre', { class: 'json' }, JSON.stringify(e.headers, null, 2))) : null,
    e.result !== undefined && e.result !== null ? section('Result', h('pre', { class: 'json' }, JSON.stringify(e.result, null, 2))) : null,
    section('Payload',
      // textContent only: the payload comes from outside systems.
      h('pre', { id: 'payload', class: 'json' }, hasPayload ? JSON.stringify(e.payload, null, 2) : '(no payload stored — removed by retention)')),
  ];
}
