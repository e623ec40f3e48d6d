// Connectors: list (with health and the tenant's pending approvals) and
// detail (test connection, receivers with their receive URL, sync
// configurations with "Run now", pending approvals of this connector).

import { BASE, get, getList, pageParam, post } from '../api.js';
import { connectorActions } from './connector_form.js';
import { addReceiverForm, receiveUrl, receiverActions } from './receiver_forms.js';
import { changeRows, diffTable } from '../diff.js';
import { syncActions } from './sync_form.js';
import { append, h, mount, show, time, utcDay, latestOnly } from '../dom.js';
import {
  connectorLink, copyButton, dataTable, empty, field, flash, kvList, loading, pager, pill, section, select,
  showError, clearError,
} from '../widgets.js';

const PER_PAGE = 50;

const connectorStatus = (c) => c.status || (c.is_active === false ? 'inactive' : 'active');

// --------------------------------------------------------------------- list

export function renderList(ctx) {
  const filters = { q: ctx.query.get('q') || '', status: ctx.query.get('status') || '', page: pageParam(ctx.query.get('page')) };
  const body = h('div', null, loading());
  const saveQuery = () => ctx.setQuery({ ...filters, page: filters.page > 1 ? filters.page : '' });
  let health = new Map(); // connector_id → health status (admins: from the dashboard)

  const load = latestOnly(ctx, async (current) => {
    try {
      const { data, meta } = await getList(`${BASE}/connectors`, { ...filters, per_page: PER_PAGE });
      if (!current()) return;
      if (!data.length && meta.total > 0 && filters.page > 1) {
        // A page past the end (an old link): show the last one.
        filters.page = meta.total_pages;
        saveQuery();
        load();
        return;
      }
      clearError();
      mount(body,
        dataTable({
          id: 'connectors-table',
          caption: 'Connectors',
          columns: [
            { label: 'Name', cell: (c) => h('a', { href: `#/connectors/${encodeURIComponent(c.id)}` }, show(c.name || c.code)) },
            { label: 'Code', cell: (c) => h('code', null, show(c.code)) },
            { label: 'Type', cell: (c) => c.type },
            { label: 'Environment', cell: (c) => c.environment },
            { label: 'Status', cell: (c) => pill(connectorStatus(c)) },
            // Health comes from the dashboard, which only admins may read.
            ctx.isAdmin ? { label: 'Health', cell: (c) => (health.has(c.id) ? pill(health.get(c.id)) : c.health ? pill(c.health) : '—') } : null,
            { label: 'Receivers', class: 'num', cell: (c) => c.receivers_count },
            { label: 'Sync configurations', class: 'num', cell: (c) => c.sync_configurations_count },
          ].filter(Boolean),
          rows: data,
          rowAttrs: (c) => ({ 'data-connector-id': c.id }),
          emptyText: filters.q || filters.status
            ? 'No connector matches these filters.'
            : ctx.isAdmin ? 'No connectors yet: create the first with “New connector”.' : 'No connectors yet. An admin adds them.',
        }),
        meta.total_pages > 1 ? pager(meta, (page) => { filters.page = page; saveQuery(); load(); }) : null);
    } catch (err) {
      if (!current()) return;
      showError(err, 'Could not load connectors');
      mount(body, empty('The connectors could not be loaded.'));
    }
  });

  const q = h('input', { id: 'filter-q', name: 'q', type: 'search', value: filters.q, placeholder: 'Name or code' });
  const status = select('filter-connector-status', [['', 'Any'], ['active', 'Active'], ['inactive', 'Inactive']], filters.status);
  const form = h('form', { id: 'connectors-filter', class: 'filters' },
    field('Search', 'filter-q', q),
    field('Status', 'filter-connector-status', status),
    h('div', { class: 'field field-submit' }, h('button', { type: 'submit', class: 'button' }, 'Apply')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    Object.assign(filters, { q: q.value.trim(), status: status.value, page: 1 });
    saveQuery();
    load();
  });

  mount(ctx.main, h('section', { class: 'page' },
    h('header', { class: 'page-head' }, h('h1', null, 'Connectors'),
      ctx.isAdmin ? h('div', { class: 'actions' }, h('a', { id: 'new-connector', class: 'button', href: '#/connectors/new' }, 'New connector')) : null),
    form, body,
    approvalQueue(ctx, {})));

  load();
  if (ctx.isAdmin) {
    // Health is computed by the dashboard (admin only); other roles see "—".
    get(`${BASE}/dashboard`, { from: utcDay(6), to: utcDay(0) })
      .then((res) => {
        if (!ctx.alive()) return;
        health = new Map((res.data?.connector_health || []).map((c) => [c.connector_id, c.status]));
        load();
      })
      .catch(() => {});
  }
}

// ------------------------------------------------------------------- detail

export function renderDetail(ctx) {
  const [id] = ctx.params;
  const page = h('section', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/connectors' }, '← Connectors')),
    loading());
  mount(ctx.main, page);

  get(`${BASE}/connectors/${encodeURIComponent(id)}`)
    .then((res) => {
      if (!ctx.alive()) return;
      const c = res.data || {};
      const result = h('div', { id: 'test-connection-result', class: 'test-result', 'aria-live': 'polite' });
      // A webhook connector is inbound only: the API has nothing to test (422).
      const test = ctx.canOperate && c.type !== 'webhook'
        ? h('button', { id: 'test-connection', type: 'button', class: 'button', onclick: () => testConnection(c, test, result) }, 'Test connection')
        : null;
      const config = c.config && Object.keys(c.config).length ? c.config : null;

      page.lastChild.remove(); // "Loading…"
      // dom.append skips absent parts; Element.append would print "null".
      append(page, [
        h('header', { class: 'page-head' },
          h('h1', null, show(c.name || c.code), ' ', pill(connectorStatus(c))),
          h('div', { class: 'actions' }, test,
            ctx.isAdmin ? h('a', { id: 'edit-connector', class: 'button button-secondary', href: `#/connectors/${encodeURIComponent(c.id)}/edit` }, 'Edit') : null)),
        result,
        section('Details', kvList([
          ['Code', h('code', null, show(c.code))],
          ['Type', c.type],
          ['Environment', c.environment],
          ['Base URL', c.base_url ?? c.config?.base_url],
          ['Credentials', c.has_credentials === undefined ? undefined : c.has_credentials ? 'stored' : 'none'],
          ['Rate limit per minute', c.rate_limit_per_minute],
          ['Created', time(c.created_at)],
          ['Updated', time(c.updated_at)],
          ['Id', h('code', null, show(c.id))],
        ])),
        config ? section('Configuration', h('pre', { class: 'json' }, JSON.stringify(config, null, 2))) : null,
        receivers(ctx, c),
        syncConfigurations(ctx, c),
        approvalQueue(ctx, { connectorId: c.id, connector: c }),
        ctx.isAdmin ? connectorActions(ctx, c) : null]);
    })
    .catch((err) => {
      if (!ctx.alive()) return;
      showError(err, 'Could not load the connector');
      page.lastChild.replaceWith(empty(err.status === 404 ? 'This connector does not exist (or was deleted).' : 'The connector could not be loaded.'));
    });
}

async function testConnection(connector, button, result) {
  button.disabled = true;
  mount(result, loading('Testing the connection…'));
  try {
    const res = await post(`${BASE}/connectors/${encodeURIComponent(connector.id)}/test-connection`);
    const data = res?.data || {};
    const ok = data.ok ?? data.success;
    clearError();
    // Known fields with labels, then whatever else came back as key: value.
    const LABELS = { latency_ms: 'Latency', status_code: 'HTTP status', api_version: 'API version', error: 'Error' };
    const rows = Object.entries(data)
      .filter(([k]) => k !== 'ok' && k !== 'success')
      .map(([k, v]) => [LABELS[k] || k, k === 'latency_ms' && typeof v === 'number' ? `${v} ms` : v]);
    mount(result,
      h('p', null, pill(ok ? 'ok' : 'failed'), ok ? ' The remote answered.' : ' The remote could not be reached or refused.'),
      kvList(rows));
  } catch (err) {
    mount(result);
    showError(err, 'Test connection failed');
  } finally {
    button.disabled = false;
  }
}

function receivers(ctx, connector) {
  const box = h('div', null, loading());
  const rotated = h('div', { id: 'receiver-rotated', 'aria-live': 'polite' });
  const load = () => getList(`${BASE}/webhook-receivers`, { connector_id: connector.id, per_page: 100 })
    .then(({ data }) => {
      if (!ctx.alive()) return;
      mount(box, dataTable({
        id: 'receivers-table',
        caption: 'Webhook receivers',
        columns: [
          { label: 'Name', cell: (r) => show(r.name) },
          { label: 'Event type', cell: (r) => h('code', null, show(r.event_type)) },
          { label: 'Verification', cell: (r) => r.auth?.method ?? r.auth?.type ?? r.verification ?? r.signature_method },
          { label: 'Status', cell: (r) => pill(r.is_active === false ? 'inactive' : 'active') },
          {
            label: 'Receive URL',
            cell: (r) => {
              const full = receiveUrl(r, connector);
              const code = h('code', { class: 'url' }, full);
              return h('div', { class: 'copy-row' }, code, copyButton(full, code));
            },
          },
          { label: 'Last delivery', cell: (r) => time(r.last_received_at) },
          ctx.isAdmin ? { label: 'Actions', cell: (r) => receiverActions(r, { out: rotated, onChanged: load }) } : null,
        ].filter(Boolean),
        rows: data,
        rowAttrs: (r) => ({ 'data-receiver-id': r.id }),
        emptyText: ctx.isAdmin ? 'No receivers yet: add one below to get a URL senders can post to.'
          : 'No receivers yet. An admin adds them.',
      }));
    })
    .catch((err) => {
      if (!ctx.alive()) return;
      showError(err, 'Could not load receivers');
      mount(box, empty('The receivers could not be loaded.'));
    });
  load();
  return [section('Webhook receivers', box, rotated), ctx.isAdmin ? addReceiverForm(connector, load) : null];
}

function syncConfigurations(ctx, connector) {
  const box = h('div', null, loading());

  const runNow = async (cfg, button) => {
    button.disabled = true;
    try {
      const res = await post(`${BASE}/sync-configurations/${encodeURIComponent(cfg.id)}/execute`);
      const runId = res?.data?.sync_history_id ?? res?.data?.id;
      flash(`“${cfg.name}” is queued to run. `, runId ? h('a', { href: `#/syncs/${encodeURIComponent(runId)}` }, 'View the run') : null);
    } catch (err) {
      showError(err, `Could not run “${cfg.name}”`);
    } finally {
      button.disabled = false;
    }
  };

  const load = () => getList(`${BASE}/sync-configurations`, { connector_id: connector.id, per_page: 100 })
    .then(({ data }) => {
      if (!ctx.alive()) return;
      mount(box, dataTable({
        id: 'sync-configs-table',
        caption: 'Sync configurations',
        columns: [
          { label: 'Name', cell: (s) => h('a', { href: `#/syncs?sync_configuration_id=${encodeURIComponent(s.id)}` }, show(s.name)) },
          { label: 'Direction', cell: (s) => s.direction },
          { label: 'Trigger', cell: (s) => s.trigger },
          { label: 'Schedule', cell: (s) => (s.schedule ? h('code', { class: 'nowrap' }, s.schedule) : '—') },
          { label: 'Status', cell: (s) => pill(s.is_active === false ? 'inactive' : 'active') },
          {
            label: 'Last run',
            // The API only says whether the last run succeeded: a partial or
            // cancelled run is "not succeeded", not necessarily failed.
            cell: (s) => (s.last_run
              ? h('span', null, time(s.last_run.at), ' ', s.last_run.succeeded
                ? pill('succeeded')
                : h('span', { class: 'pill pill-warn', 'data-status': 'not_succeeded' }, 'not succeeded'))
              : time(s.last_run_at)),
          },
          { label: 'Next run', cell: (s) => time(s.next_run_at) },
          // Viewers cannot run: no Actions column for them.
          ctx.canOperate ? {
            label: 'Actions',
            cell: (s) => {
              // A webhook-triggered configuration runs on the events it receives (the API answers 422).
              let run = h('span', { class: 'muted' }, 'runs on each event');
              if (s.trigger !== 'webhook') {
                run = h('button', { type: 'button', class: 'button button-small', 'data-run': s.id }, 'Run now');
                run.addEventListener('click', () => runNow(s, run));
              }
              return h('div', { class: 'button-row' }, run, ctx.isAdmin ? syncActions(s, load) : null);
            },
          } : null,
        ].filter(Boolean),
        rows: data,
        rowAttrs: (s) => ({ 'data-sync-configuration-id': s.id }),
        emptyText: ctx.isAdmin ? 'No sync configurations yet: add one below.' : 'No sync configurations yet. An admin adds them.',
      }));
    })
    .catch((err) => {
      if (!ctx.alive()) return;
      showError(err, 'Could not load sync configurations');
      mount(box, empty('The sync configurations could not be loaded.'));
    });
  load();
  const add = ctx.isAdmin
    ? h('p', null, h('a', { id: 'new-sync-configuration', class: 'button', href: `#/sync-configurations/new?connector_id=${encodeURIComponent(connector.id)}` }, 'New sync configuration'))
    : null;
  return section('Sync configurations', box, add);
}

// ---------------------------------------------------------- approval queue

/** Pending change requests (of one connector, or all), each as a before/after diff; other admins approve or
 * reject, the requester may withdraw. */
function approvalQueue(ctx, { connectorId, connector }) {
  const box = h('div', null, loading());

  const decide = async (cr, verb, button) => {
    button.disabled = true;
    try {
      // Withdrawing is the requester's own rejection.
      const body = verb === 'withdraw' ? { note: 'withdrawn by the requester' } : undefined;
      await post(`${BASE}/change-requests/${encodeURIComponent(cr.id)}/${verb === 'withdraw' ? 'reject' : verb}`, body);
      flash({ approve: 'Change request approved and applied.', reject: 'Change request rejected.', withdraw: 'Change request withdrawn.' }[verb]);
      ctx.reload();
    } catch (err) {
      showError(err, `Could not ${verb} the change request`);
      button.disabled = false;
    }
  };

  Promise.all([
    getList(`${BASE}/change-requests`, { status: 'pending', connector_id: connectorId, per_page: 100 }),
    connectorId ? Promise.resolve(null) : getList(`${BASE}/connectors`, { per_page: 100 }).catch(() => null),
  ])
    .then(([{ data }, all]) => {
      if (!ctx.alive()) return;
      const names = new Map((all?.data || []).map((c) => [c.id, c]));
      if (connector) names.set(connector.id, connector);
      mount(box, dataTable({
        id: 'approvals-table',
        caption: 'Pending approvals',
        columns: [
          { label: 'Requested', cell: (cr) => time(cr.created_at) },
          connectorId ? null : { label: 'Connector', cell: (cr) => connectorLink(cr.connector_id, names) },
          { label: 'Change', cell: (cr) => diffTable(changeRows(cr.changes, names.get(cr.connector_id)), `diff-${cr.id}`) },
          { label: 'Requested by', cell: (cr) => cr.requested_by_name ?? h('code', null, show(cr.requested_by)) },
          ctx.isAdmin ? {
            label: 'Decision',
            cell: (cr) => {
              // The requester cannot decide their own change (four eyes).
              const mine = cr.requested_by === ctx.session.token_id
                || (ctx.session.user && cr.requested_by_name === `${ctx.session.user.name} <${ctx.session.user.email}>`);
              if (mine) {
                const withdraw = h('button', { type: 'button', class: 'button button-small button-secondary', 'data-withdraw': cr.id }, 'Withdraw');
                withdraw.addEventListener('click', () => decide(cr, 'withdraw', withdraw));
                return h('div', { class: 'button-row' }, h('span', { class: 'help' }, 'Another admin decides.'), withdraw);
              }
              const approve = h('button', { type: 'button', class: 'button button-small', 'data-approve': cr.id }, 'Approve');
              const reject = h('button', { type: 'button', class: 'button button-small button-danger', 'data-reject': cr.id }, 'Reject');
              approve.addEventListener('click', () => decide(cr, 'approve', approve));
              reject.addEventListener('click', () => decide(cr, 'reject', reject));
              return h('div', { class: 'button-row' }, approve, reject);
            },
          } : null,
        ].filter(Boolean),
        rows: data,
        rowAttrs: (cr) => ({ 'data-change-request-id': cr.id }),
        emptyText: 'No changes are waiting for approval. (Changes to production connectors need an admin’s approval.)',
      }));
    })
    .catch((err) => {
      if (!ctx.alive()) return;
      showError(err, 'Could not load pending approvals');
      mount(box, empty('The approval queue could not be loaded.'));
    });
  return section('Pending approvals', box);
}
