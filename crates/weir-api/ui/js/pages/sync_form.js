// Sync configuration create and edit forms (admin):
// #/sync-configurations/new?connector_id=<id> and #/sync-configurations/<id>/edit.
// Only the fields that apply to the chosen direction and trigger are shown.
// The schedule field lists the next five runs as the server computes them
// (GET …/schedule-preview), and the pagination settings follow the
// pagination type. The API validates; its 422 is shown beside the fields.

import { BASE, get, getList, post, request } from '../api.js';
import { h, mount, time } from '../dom.js';
import { confirmButton, input, options, row, showProblem } from '../forms.js';
import { copyButton, empty, flash, loading, showError } from '../widgets.js';

const PAGINATION = [['none', 'None (one request)'], ['page', 'Page number'], ['offset', 'Offset and limit'], ['cursor', 'Cursor'], ['link_header', 'Link header (rel="next")']];

/** Shows `el` only when `when()` holds, re-checked whenever one of `controls` changes. */
function showWhen(el, when, ...controls) {
  const sync = () => { el.hidden = !when(); };
  for (const c of controls) c.addEventListener('change', sync);
  sync();
  return el;
}

function fields(existing, connectorId) {
  const p = existing?.source?.pagination || {};
  return {
    name: input('sync-name', { value: existing?.name }),
    connector: options('sync-connector', [], existing?.connector_id || connectorId),
    direction: options('sync-direction', [['inbound', 'Inbound: partner → records'], ['outbound', 'Outbound: records → partner']], existing?.direction || 'inbound'),
    entity: input('sync-entity-type', { value: existing?.entity_type, placeholder: 'e.g. customer' }),
    mapping: options('sync-mapping', [['', 'None']], existing?.field_mapping_id || ''),
    trigger: options('sync-trigger', [['schedule', 'On a schedule'], ['manual', 'By hand (Run now)'], ['webhook', 'On each webhook event']], existing?.trigger || 'schedule'),
    schedule: input('sync-schedule', { value: existing?.schedule || '*/15 * * * *' }),
    eventTypes: input('sync-event-types', { value: (existing?.event_types || []).join(', '), placeholder: 'customer.created, customer.updated' }),
    path: input('sync-source-path', { value: existing?.source?.path, placeholder: '/customers' }),
    recordsPath: input('sync-records-path', { value: existing?.source?.records_path ?? '', placeholder: 'data' }),
    pagination: options('sync-pagination', PAGINATION, p.type || 'none'),
    param: input('sync-page-param', { value: p.param ?? '' }),
    start: input('sync-page-start', { type: 'number', value: p.start ?? 1, min: 0 }),
    nextPath: input('sync-next-path', { value: p.next_path ?? '', placeholder: 'meta.next_cursor' }),
    offsetParam: input('sync-offset-param', { value: p.offset_param ?? 'offset' }),
    limitParam: input('sync-limit-param', { value: p.limit_param ?? 'limit' }),
    limit: input('sync-limit', { type: 'number', value: p.limit ?? 100, min: 1 }),
    destUrl: input('sync-destination-url', { type: 'url', value: existing?.destination?.url ?? '', placeholder: 'https://erp.example.com/hooks/customers' }),
    destPath: input('sync-destination-path', { value: existing?.destination?.path ?? '', placeholder: '/customers/bulk' }),
    ordering: input('sync-ordering-field', { value: existing?.ordering_field ?? '', placeholder: 'updated_at' }),
  };
}

function pagination(f) {
  const type = f.pagination.value;
  const text = (el) => el.value.trim() || undefined;
  if (type === 'page') return { type, param: text(f.param) || 'page', start: Number(f.start.value) || 1, next_path: text(f.nextPath) };
  if (type === 'offset') return { type, offset_param: text(f.offsetParam), limit_param: text(f.limitParam), limit: Number(f.limit.value) || 100 };
  if (type === 'cursor') return { type, param: text(f.param) || 'cursor', next_path: text(f.nextPath) };
  return { type };
}

/** The body the form describes; what does not apply is cleared (a PATCH merges). */
function bodyOf(f) {
  const [direction, trigger] = [f.direction.value, f.trigger.value];
  const body = {
    connector_id: f.connector.value,
    name: f.name.value.trim(),
    direction,
    entity_type: f.entity.value.trim(),
    field_mapping_id: f.mapping.value || null,
    trigger,
    schedule: trigger === 'schedule' ? f.schedule.value.trim() : null,
    event_types: trigger === 'webhook' ? f.eventTypes.value.split(',').map((s) => s.trim()).filter(Boolean) : [],
    source: null,
    destination: null,
    ordering_field: f.ordering.value.trim() || null,
  };
  if (trigger !== 'webhook' && direction === 'inbound') {
    body.source = { path: f.path.value.trim(), records_path: f.recordsPath.value.trim() || null, pagination: pagination(f) };
  }
  if (trigger === 'webhook' && f.destUrl.value.trim()) body.destination = { url: f.destUrl.value.trim() };
  if (direction === 'outbound') body.destination = { path: f.destPath.value.trim() };
  return body;
}

/** The next five runs under the schedule field, refreshed as it is typed (debounced). */
function schedulePreview(f) {
  const list = h('ol', { id: 'sync-next-runs', class: 'next-runs', 'aria-live': 'polite' });
  const error = () => document.getElementById('sync-schedule-error');
  let timer = null;
  let asked = 0;
  const refresh = async () => {
    const mine = ++asked;
    try {
      const res = await get(`${BASE}/sync-configurations/schedule-preview`, { schedule: f.schedule.value });
      if (mine !== asked) return;
      mount(error());
      f.schedule.removeAttribute('aria-invalid');
      mount(list, (res.data?.next_runs || []).map((t) => h('li', null, time(t))));
    } catch (err) {
      if (mine !== asked) return;
      mount(list);
      mount(error(), (err.problem?.errors?.schedule || [err.message]).join('; '));
      f.schedule.setAttribute('aria-invalid', 'true');
    }
  };
  f.schedule.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  queueMicrotask(refresh);
  return h('div', { class: 'field' }, h('span', { class: 'field-label', id: 'sync-next-runs-label' }, 'Next runs (your time; the schedule is in UTC)'), list);
}

/** "Dry run": the first page of the source on screen, mapped, nothing written. */
function dryRunButton(f, formEl, out) {
  const button = h('button', { type: 'button', id: 'sync-dry-run', class: 'button button-secondary' }, 'Dry run');
  button.addEventListener('click', async () => {
    button.disabled = true;
    mount(out, loading('Fetching the first page…'));
    const body = bodyOf(f);
    try {
      const res = await post(`${BASE}/sync-configurations/dry-run`, { connector_id: body.connector_id, field_mapping_id: body.field_mapping_id, source: body.source });
      const d = res.data;
      if (d.failure) {
        mount(out, h('p', { class: 'form-error' }, `The first page could not be read: ${d.failure}`));
        return;
      }
      mount(out,
        h('p', null, `${d.items} record${d.items === 1 ? '' : 's'} on the first page${d.more_pages ? '; more pages follow' : ''}. `,
          `The first ${Math.min(d.items, 10)} would be written as (nothing is written now):`),
        h('ul', { class: 'dry-records' }, d.records.map((r) => h('li', null, h('code', null, r.external_id), ' ', h('code', { class: 'json-inline' }, JSON.stringify(r.data))))),
        d.errors.length ? h('ul', { class: 'form-error' }, d.errors.map((e) => h('li', null, `Record ${e.item}: ${e.message}`))) : null);
    } catch (err) {
      mount(out);
      showProblem(formEl(), err);
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

function form(ctx, existing, connectorId) {
  const f = fields(existing, connectorId);
  const dryOut = h('div', { id: 'sync-dry-run-result', class: 'test-result', 'aria-live': 'polite' });
  const is = (control, ...values) => () => values.includes(control.value);
  const pulls = () => f.direction.value === 'inbound' && f.trigger.value !== 'webhook';
  const pageType = (...types) => () => pulls() && types.includes(f.pagination.value);
  const watched = [f.direction, f.trigger, f.pagination];
  const el = h('form', { id: 'sync-form', class: 'stack-form', novalidate: true },
    h('div', { class: 'form-error', role: 'alert' }),
    row({ label: 'Name', control: f.name, name: 'name' }),
    row({ label: 'Connector', control: f.connector, name: 'connector_id' }),
    row({ label: 'Direction', control: f.direction, name: 'direction' }),
    row({ label: 'Record type', control: f.entity, name: 'entity_type', help: 'Lowercase, e.g. customer or order.' }),
    row({ label: 'Field mapping', control: f.mapping, name: 'field_mapping_id', help: 'Required inbound; its record type must match.' }),
    row({ label: 'Trigger', control: f.trigger, name: 'trigger' }),
    showWhen(h('div', null, row({ label: 'Schedule (cron, UTC)', control: f.schedule, name: 'schedule', help: 'e.g. */15 * * * * for every quarter hour.' }), schedulePreview(f)), is(f.trigger, 'schedule'), f.trigger),
    showWhen(row({ label: 'Event types', control: f.eventTypes, name: 'event_types', help: 'Comma-separated; * for every type.' }), is(f.trigger, 'webhook'), f.trigger),
    showWhen(h('div', { id: 'sync-source' },
      row({ label: 'Source path', control: f.path, name: 'source.path', help: 'Appended to the connector’s base URL.' }),
      row({ label: 'Records path', control: f.recordsPath, name: 'source.records_path', help: 'Where the records are in each page, e.g. data; blank if the page is the array.' }),
      row({ label: 'Pagination', control: f.pagination, name: 'source.pagination' }),
      showWhen(row({ label: 'Page or cursor parameter', control: f.param, name: 'source.pagination.param' }), pageType('page', 'cursor'), ...watched),
      showWhen(row({ label: 'First page', control: f.start, name: 'source.pagination.start' }), pageType('page'), ...watched),
      showWhen(row({ label: 'Next page or cursor at', control: f.nextPath, name: 'source.pagination.next_path', help: 'A path in the page, e.g. meta.next_cursor.' }), pageType('page', 'cursor'), ...watched),
      showWhen(row({ label: 'Offset parameter', control: f.offsetParam, name: 'source.pagination.offset_param' }), pageType('offset'), ...watched),
      showWhen(row({ label: 'Limit parameter', control: f.limitParam, name: 'source.pagination.limit_param' }), pageType('offset'), ...watched),
      showWhen(row({ label: 'Limit', control: f.limit, name: 'source.pagination.limit' }), pageType('offset'), ...watched)), pulls, ...watched),
    showWhen(row({ label: 'Deliver records to (optional)', control: f.destUrl, name: 'destination.url', help: 'Each mapped record is POSTed here, signed.' }), () => f.trigger.value === 'webhook', ...watched),
    showWhen(row({ label: 'Destination path', control: f.destPath, name: 'destination.path', help: 'Records are POSTed here in arrays of up to 100.' }), is(f.direction, 'outbound'), ...watched),
    row({ label: 'Ordering field (optional)', control: f.ordering, name: 'ordering_field', help: 'A mapped field, e.g. updated_at: an older change never overwrites a newer record.' }),
    h('div', { class: 'button-row' },
      h('button', { type: 'submit', id: 'sync-save', class: 'button' }, existing ? 'Save changes' : 'Create configuration'),
      showWhen(dryRunButton(f, () => el, dryOut), pulls, ...watched),
      h('a', { class: 'button button-secondary', href: `#/connectors/${encodeURIComponent(existing?.connector_id || connectorId)}` }, 'Cancel')),
    dryOut);
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const path = existing ? `${BASE}/sync-configurations/${encodeURIComponent(existing.id)}` : `${BASE}/sync-configurations`;
      const res = await request(existing ? 'PATCH' : 'POST', path, { body: bodyOf(f) });
      const back = `#/connectors/${encodeURIComponent(res.data.connector_id)}`;
      const secret = res.data.destination_secret;
      const code = secret ? h('code', { class: 'wrap' }, secret) : null;
      ctx.go(back, existing ? `“${res.data.name}” saved.` : `“${res.data.name}” created.`,
        secret ? [' Its destination signing secret, shown once: ', code, ' ', copyButton(secret, code)] : null);
    } catch (err) {
      showProblem(el, err);
    }
  });
  return { el, f };
}

async function render(ctx, existing) {
  const connectorId = existing?.connector_id || ctx.query.get('connector_id') || '';
  mount(ctx.main, loading());
  const [connectors, mappings] = await Promise.all([
    getList(`${BASE}/connectors`, { per_page: 100 }), getList(`${BASE}/field-mappings`, { per_page: 100 })]);
  if (!ctx.alive()) return;
  const { el, f } = form(ctx, existing, connectorId);
  for (const c of connectors.data) f.connector.append(h('option', { value: c.id, selected: c.id === connectorId }, c.name || c.code));
  for (const m of mappings.data) {
    f.mapping.append(h('option', { value: m.id, selected: m.id === existing?.field_mapping_id }, `${m.name} (${m.entity_type})`));
  }
  if (existing) f.connector.disabled = true;
  mount(ctx.main, h('section', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: connectorId ? `#/connectors/${encodeURIComponent(connectorId)}` : '#/connectors' }, '← Connector')),
    h('h1', null, existing ? `Edit ${existing.name}` : 'New sync configuration'), el));
}

export async function renderNew(ctx) {
  if (!ctx.isAdmin) return mount(ctx.main, empty('Only admins create sync configurations.'));
  try {
    await render(ctx, null);
  } catch (err) {
    showError(err, 'Could not load the form');
  }
}

export async function renderEdit(ctx) {
  if (!ctx.isAdmin) return mount(ctx.main, empty('Only admins change sync configurations.'));
  try {
    const res = await get(`${BASE}/sync-configurations/${encodeURIComponent(ctx.params[0])}`);
    if (ctx.alive()) await render(ctx, res.data);
  } catch (err) {
    if (!ctx.alive()) return;
    showError(err, 'Could not load the configuration');
    mount(ctx.main, empty(err.status === 404 ? 'This configuration does not exist (or was deleted).' : 'The configuration could not be loaded.'));
  }
}

/** Row actions for admins: Edit, Pause/Resume, Delete (asked first). */
export function syncActions(cfg, onChanged) {
  const path = `${BASE}/sync-configurations/${encodeURIComponent(cfg.id)}`;
  const active = cfg.is_active !== false;
  const edit = h('a', { class: 'button button-small button-secondary', href: `#/sync-configurations/${encodeURIComponent(cfg.id)}/edit`, 'data-edit-sync': cfg.id }, 'Edit');
  const pause = h('button', { type: 'button', class: 'button button-small button-secondary', 'data-pause-sync': cfg.id }, active ? 'Pause' : 'Resume');
  pause.addEventListener('click', async () => {
    try {
      await request('PATCH', path, { body: { is_active: !active } });
      flash(active ? `“${cfg.name}” paused: it neither runs nor routes events until resumed.` : `“${cfg.name}” resumed.`);
      onChanged();
    } catch (err) {
      showError(err);
    }
  });
  const remove = confirmButton({
    id: `delete-sync-${cfg.id}`,
    label: 'Delete',
    question: 'It stops running and routing at once; its run history stays.',
    yes: `Delete “${cfg.name}”`,
    act: async () => {
      try {
        await request('DELETE', path);
        flash(`“${cfg.name}” deleted.`);
        onChanged();
      } catch (err) {
        showError(err);
      }
    },
  });
  return [edit, pause, remove];
}
