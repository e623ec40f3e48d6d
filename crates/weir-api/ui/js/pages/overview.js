// Overview: the tenant's dashboard for a range of UTC days (admin only),
// refreshed live (at most once a second) when events, runs or health change.

import { BASE, get, url } from '../api.js';
import { h, mount, show, fmtPercent, fmtNumber, fmtDuration, time, utcDay, rateLimit, latestOnly } from '../dom.js';
import { dataTable, dateRange, empty, loading, pill, section, showError, clearError, connectorLink } from '../widgets.js';
import { trendChart } from '../chart.js';

const CARDS = [
  ['total_connectors', 'Connectors'],
  ['active_connectors', 'Active connectors'],
  ['webhooks_received', 'Webhooks received'],
  ['webhooks_failed', 'Webhooks failed'],
  ['total_syncs', 'Sync runs finished'],
  ['failed_syncs', 'Sync runs failed'],
  ['success_rate', 'Success rate'],
  ['total_errors', 'Errors'],
  ['active_syncs', 'Syncs running now'],
];
const BAD_WHEN_POSITIVE = new Set(['webhooks_failed', 'failed_syncs', 'total_errors']);

/** The list each card counts, for the range shown (lists filter by arrival or queue time, cards by outcome day). */
function cardLink(key, range) {
  const days = { from: range.from, to: range.to };
  const links = {
    total_connectors: ['#/connectors'],
    active_connectors: ['#/connectors', { status: 'active' }],
    webhooks_received: ['#/events', days],
    webhooks_failed: ['#/events', { status: 'failed', ...days }],
    total_syncs: ['#/syncs', days],
    failed_syncs: ['#/syncs', { status: 'failed', ...days }],
    active_syncs: ['#/syncs', { status: 'running' }],
  };
  return links[key] ? url(...links[key]) : null;
}

/** What a card measures, where its label alone does not say. */
const CARD_NOTES = {
  success_rate: 'completed events and succeeded or partial runs, of all that finished',
  total_errors: 'refused deliveries, failed events and runs, and failed records; by type below',
};

const LIVE_EVENTS = ['event.received', 'event.processed', 'event.failed', 'sync.finished', 'connector.health_changed'];

export function render(ctx) {
  const range = { from: ctx.query.get('from') || utcDay(6), to: ctx.query.get('to') || utcDay(0) };
  const csv = h('a', { id: 'export-csv', class: 'button button-secondary', download: '' }, 'Export CSV');
  const json = h('a', { id: 'export-json', class: 'button button-secondary', download: '' }, 'Export JSON');
  const body = h('div', { class: 'stack' }, loading());

  const setExportLinks = () => {
    csv.setAttribute('href', url(`${BASE}/dashboard/export`, { format: 'csv', ...range }));
    json.setAttribute('href', url(`${BASE}/dashboard/export`, { format: 'json', ...range }));
  };

  let forbidden = false; // set once the API said 403: live events must not ask again
  const adminOnly = () => {
    forbidden = true;
    for (const el of [csv, json, picker]) el.hidden = true;
    mount(body, empty(
      h('p', null, h('strong', null, 'The overview needs the admin role.'), ` You are signed in as ${show(ctx.session.role)}.`),
      h('p', null, 'You can still browse ', h('a', { href: '#/connectors' }, 'connectors'), ', ',
        h('a', { href: '#/events' }, 'webhook events'), ' and ', h('a', { href: '#/syncs' }, 'sync histories'), '.')));
  };

  let refused = false; // the API refused this range (422, e.g. a hand-edited URL): no live retries

  const load = latestOnly(ctx, async (current) => {
    if (forbidden) return;
    try {
      const res = await get(`${BASE}/dashboard`, range);
      if (!current()) return;
      refused = false;
      clearError();
      mount(body, ...dashboard(res.data || {}, range));
    } catch (err) {
      if (!current()) return;
      if (err.status === 403) {
        adminOnly();
      } else {
        refused = err.status >= 400 && err.status < 500;
        showError(err, 'Could not load the dashboard');
        if (body.querySelector('.loading')) mount(body, empty('The dashboard could not be loaded.'));
      }
    }
  });

  const picker = dateRange({
    ...range,
    onChange: (r) => {
      if (!r.from || !r.to) return;
      Object.assign(range, r);
      ctx.setQuery(range);
      setExportLinks();
      load();
    },
  });
  setExportLinks();

  mount(ctx.main, h('section', { class: 'page' },
    h('header', { class: 'page-head' }, h('h1', null, 'Overview'), h('div', { class: 'actions' }, csv, json)),
    h('div', { class: 'toolbar' }, picker),
    body));

  // The dashboard is admin-only: other roles get the note without a refused request.
  if (!ctx.isAdmin) {
    adminOnly();
    return;
  }
  load();
  const refresh = rateLimit(() => { if (!refused) load(); }, 1000);
  ctx.onCleanup(refresh.cancel);
  ctx.live(LIVE_EVENTS, refresh);
}

/** The dashboard's sections, as nodes. */
function dashboard(d, range) {
  const s = d.summary || {};
  const health = Array.isArray(d.connector_health) ? d.connector_health : [];
  const names = new Map(health.map((c) => [c.connector_id, { name: c.name, code: c.code }]));
  const out = [];

  if (s.total_connectors === 0) {
    out.push(empty(h('p', null, h('strong', null, 'No connectors yet'),
      ': ', h('a', { href: '#/connectors/new' }, 'create one'),
      ', then add a webhook receiver or a sync configuration to it.')));
  }

  out.push(h('div', { class: 'cards' }, CARDS.map(([key, label]) => {
    const v = s[key];
    // The testid element holds the plain number (tests compare it); the rate is a percentage.
    const text = key === 'success_rate' ? fmtPercent(v) : Number.isFinite(v) ? String(Math.trunc(v)) : '—';
    const tone = BAD_WHEN_POSITIVE.has(key) && v > 0 ? 'card card-bad' : 'card';
    const link = cardLink(key, range);
    return h('div', { class: tone },
      h('div', { class: 'card-label' }, link ? h('a', { href: link, class: 'card-link', 'data-card-link': key }, label) : label),
      h('div', { class: 'card-value', 'data-testid': `summary-${key}` }, text),
      key === 'total_connectors' && Number.isFinite(s.inactive_connectors)
        ? h('div', { class: 'card-note' }, `${s.inactive_connectors} inactive`) : null,
      CARD_NOTES[key] ? h('div', { class: 'card-note' }, CARD_NOTES[key]) : null);
  })));

  const trends = Array.isArray(d.sync_trends) ? d.sync_trends : [];
  out.push(section('Daily sync runs', trends.length ? trendChart(trends) : empty('No days in this range.')));

  const grid = h('div', { class: 'grid-2' });
  grid.append(
    section('Errors by type', dataTable({
      caption: 'Errors by type',
      columns: [
        { label: 'Error type', cell: (e) => h('code', null, show(e.error_type)) },
        { label: 'Count', class: 'num', cell: (e) => fmtNumber(e.count) },
      ],
      rows: d.error_breakdown || [],
      emptyText: 'No errors in this range.',
    })),
    section('Top failing connectors', topFailingTable(d.top_failing_connectors || [])));
  out.push(grid);

  out.push(section('Connector health', healthTable(health,
    'No connectors yet: create one on the Connectors page.', 'Connector health')));

  out.push(section('Recent sync runs', dataTable({
    caption: 'Recent sync runs',
    columns: [
      { label: 'Queued', cell: (r) => h('a', { href: `#/syncs/${encodeURIComponent(r.id)}` }, time(r.queued_at || r.started_at)) },
      { label: 'Connector', cell: (r) => connectorLink(r.connector_id, names) },
      { label: 'Trigger', cell: (r) => r.trigger },
      { label: 'Status', cell: (r) => pill(r.status) },
      { label: 'Read', class: 'num', cell: (r) => fmtNumber(r.records_read) },
      { label: 'Failed', class: 'num', cell: (r) => fmtNumber(r.records_failed) },
      { label: 'Duration', class: 'num', cell: (r) => fmtDuration(r.duration_ms) },
    ],
    rows: d.recent_syncs || [],
    emptyText: 'No sync runs yet — run a sync configuration from its connector page, or wait for its schedule.',
  })));
  return out;
}

const connectorCell = (c) => h('a', { href: `#/connectors/${encodeURIComponent(c.connector_id)}` }, show(c.name || c.code));

/** The half-width panel: only the columns that fit (failures = in the range). */
function topFailingTable(rows) {
  return dataTable({
    caption: 'Top failing connectors',
    columns: [
      { label: 'Connector', cell: connectorCell },
      { label: 'Health', cell: (c) => pill(c.status) },
      { label: 'Success rate', class: 'num', cell: (c) => fmtPercent(c.success_rate) },
      { label: 'Failures', class: 'num', cell: (c) => fmtNumber(c.failures) },
    ],
    rows,
    emptyText: 'No connector failed in this range.',
  });
}

function healthTable(rows, emptyText, caption) {
  return dataTable({
    caption,
    columns: [
      { label: 'Connector', cell: connectorCell },
      { label: 'Code', cell: (c) => h('code', null, show(c.code)) },
      { label: 'Health', cell: (c) => pill(c.status) },
      { label: 'Success rate', class: 'num', cell: (c) => fmtPercent(c.success_rate) },
      { label: 'Consecutive failures', class: 'num', cell: (c) => show(c.consecutive_failures) },
      { label: 'Last activity', cell: (c) => time(c.last_activity_at) },
    ],
    rows,
    emptyText,
  });
}
