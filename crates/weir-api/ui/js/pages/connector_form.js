// Connector create and edit forms (admin): #/connectors/new and
// #/connectors/<id>/edit. The API validates; its 422 field errors are shown
// next to their fields. Credentials are write-only: the edit form says
// whether some are stored, never what they are, and leaving them blank
// keeps them. "Test connection" tries the settings on screen before they
// are saved. On a production connector a change of address, credentials or
// environment goes to another admin for approval (202), and the form says so.

import { BASE, get, post, request } from '../api.js';
import { h, mount } from '../dom.js';
import { clearErrors, confirmButton, input, options, row, showProblem } from '../forms.js';
import { empty, kvList, loading, pill, section, showError } from '../widgets.js';

const ENVIRONMENTS = [['production', 'Production (changes need approval)'], ['staging', 'Staging'], ['development', 'Development']];
const AUTH = [['none', 'None'], ['bearer', 'Bearer token'], ['basic', 'Basic (username and password)'], ['api_key', 'API key header']];

/** JSON with sorted keys, to tell whether a config really changed. */
function stable(v) {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stable(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** "Name: value" lines → {Name: value}; null when a line has no colon. */
function parseHeaders(text) {
  const out = {};
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const i = line.indexOf(':');
    if (i < 1) return null;
    out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

function buildForm(existing) {
  const cfg = existing?.config || {};
  const f = {
    name: input('connector-name', { value: existing?.name, required: true }),
    code: input('connector-code', { value: existing?.code, required: true, placeholder: 'e.g. shop' }),
    type: options('connector-type', [['http', 'HTTP API (Weir calls it)'], ['webhook', 'Webhooks only (it calls Weir)']], existing?.type || 'http'),
    environment: options('connector-environment', ENVIRONMENTS, existing?.environment || 'production'),
    baseUrl: input('connector-base-url', { type: 'url', value: cfg.base_url, placeholder: 'https://api.example.com' }),
    healthPath: input('connector-health-path', { value: cfg.health_path || '/' }),
    timeout: input('connector-timeout', { type: 'number', value: cfg.timeout_ms || 10000, min: 100, max: 120000 }),
    headers: h('textarea', { id: 'connector-headers', name: 'connector-headers', rows: 3 },
      Object.entries(cfg.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n')),
    auth: options('connector-auth', AUTH, cfg.auth?.type || 'none'),
    authHeader: input('connector-auth-header', { value: cfg.auth?.header || 'X-API-Key' }),
    token: input('connector-token', { type: 'password', autocomplete: 'new-password' }),
    username: input('connector-username'),
    password: input('connector-password', { type: 'password', autocomplete: 'new-password' }),
    key: input('connector-key', { type: 'password', autocomplete: 'new-password' }),
    rate: input('connector-rate', { type: 'number', value: existing?.rate_limit_per_minute ?? '', min: 0 }),
  };
  if (existing) f.code.disabled = f.type.disabled = true;
  return f;
}

/** The config the form describes (http connectors). */
function configOf(f) {
  const auth = { type: f.auth.value };
  if (auth.type === 'api_key') auth.header = f.authHeader.value.trim() || 'X-API-Key';
  const headers = parseHeaders(f.headers.value);
  return {
    base_url: f.baseUrl.value.trim(),
    health_path: f.healthPath.value.trim() || '/',
    timeout_ms: Number(f.timeout.value) || 10000,
    headers: headers ?? f.headers.value,
    auth,
  };
}

/** Credentials typed in, or null when every credential field is blank. */
function credentialsOf(f) {
  const t = f.auth.value;
  if (t === 'bearer' && f.token.value) return { token: f.token.value };
  if (t === 'basic' && (f.username.value || f.password.value)) return { username: f.username.value, password: f.password.value };
  if (t === 'api_key' && f.key.value) return { key: f.key.value };
  return null;
}

function credentialRows(f, existing) {
  const stored = existing?.has_credentials
    ? 'Credentials are stored. They are never shown; leave these fields blank to keep them.'
    : 'Stored sealed; never shown again after saving.';
  const group = h('div', { class: 'field form-row', 'data-field': 'credentials' },
    h('p', { id: 'connector-credentials-help', class: 'help' }, stored),
    h('div', { 'data-auth': 'bearer' }, row({ label: 'Token', control: f.token })),
    h('div', { 'data-auth': 'basic' }, row({ label: 'Username', control: f.username }), row({ label: 'Password', control: f.password })),
    h('div', { 'data-auth': 'api_key' }, row({ label: 'Key', control: f.key })),
    h('p', { id: 'connector-credentials-error', class: 'field-error' }));
  const sync = () => {
    for (const el of group.querySelectorAll('[data-auth]')) el.hidden = el.dataset.auth !== f.auth.value;
    group.hidden = f.auth.value === 'none';
  };
  f.auth.addEventListener('change', sync);
  sync();
  return group;
}

function testResult(data) {
  const rows = [['Latency', `${data.latency_ms} ms`], ['HTTP status', data.status_code], ['API version', data.api_version], ['Error', data.error]];
  return [h('p', null, pill(data.success ? 'ok' : 'failed'),
    data.success ? ' The remote answered with these settings.' : ' The remote could not be reached or refused.'),
  kvList(rows.filter(([, v]) => v !== null && v !== undefined))];
}

function render(ctx, existing) {
  const f = buildForm(existing);
  const summary = h('div', { class: 'form-error', role: 'alert' });
  const tested = h('div', { id: 'connector-test-result', class: 'test-result', 'aria-live': 'polite' });
  const httpPart = h('div', { id: 'connector-http-settings' },
    row({ label: 'Base URL', control: f.baseUrl, name: 'config.base_url', help: 'Where the partner’s API lives; http:// or https://.' }),
    row({ label: 'Health path', control: f.healthPath, name: 'config.health_path', help: '“Test connection” sends a GET here.' }),
    row({ label: 'Timeout (ms)', control: f.timeout, name: 'config.timeout_ms' }),
    row({ label: 'Extra headers', control: f.headers, name: 'config.headers', help: 'One “Name: value” per line; not for secrets.' }),
    row({ label: 'Authentication', control: f.auth, name: 'config.auth' }),
    h('div', { 'data-auth-header': '' }, row({ label: 'Key header', control: f.authHeader, name: 'config.auth.header' })),
    credentialRows(f, existing));
  const syncType = () => {
    httpPart.hidden = f.type.value !== 'http';
    httpPart.querySelector('[data-auth-header]').hidden = f.auth.value !== 'api_key';
  };
  f.type.addEventListener('change', syncType);
  f.auth.addEventListener('change', syncType);
  syncType();

  const testButton = h('button', { type: 'button', id: 'connector-test', class: 'button button-secondary' }, 'Test connection');
  const form = h('form', { id: 'connector-form', class: 'stack-form', novalidate: true },
    summary,
    row({ label: 'Name', control: f.name, name: 'name' }),
    row({ label: 'Code', control: f.code, name: 'code', help: existing ? 'The code is part of receive URLs; it cannot change.' : 'Lowercase letters, digits, - and _; used in receive URLs.' }),
    row({ label: 'Type', control: f.type, name: 'type' }),
    row({ label: 'Environment', control: f.environment, name: 'environment',
      help: existing?.environment === 'production' ? 'This is a production connector: a change of address, credentials or environment goes to another admin for approval.' : null }),
    httpPart,
    row({ label: 'Rate limit per minute', control: f.rate, name: 'rate_limit_per_minute', help: 'Deliveries accepted per minute; 0 = unlimited; blank = the server’s default.' }),
    h('div', { class: 'button-row' },
      h('button', { type: 'submit', id: 'connector-save', class: 'button' }, existing ? 'Save changes' : 'Create connector'),
      testButton,
      h('a', { class: 'button button-secondary', href: existing ? `#/connectors/${encodeURIComponent(existing.id)}` : '#/connectors' }, 'Cancel')),
    tested);

  testButton.addEventListener('click', async () => {
    clearErrors(form);
    mount(tested, loading('Testing the connection…'));
    testButton.disabled = true;
    const body = { type: 'http', config: configOf(f) };
    const creds = credentialsOf(f);
    if (creds) body.credentials = creds;
    else if (existing) body.connector_id = existing.id;
    try {
      const res = await post(`${BASE}/connectors/test-connection`, body);
      mount(tested, testResult(res.data || {}));
    } catch (err) {
      mount(tested);
      showProblem(form, err);
    } finally {
      testButton.disabled = false;
    }
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const save = form.querySelector('#connector-save');
    save.disabled = true;
    try {
      await submit(ctx, f, existing);
    } catch (err) {
      showProblem(form, err);
    } finally {
      save.disabled = false;
    }
  });

  mount(ctx.main, h('section', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/connectors' }, '← Connectors')),
    h('h1', null, existing ? `Edit ${existing.name}` : 'New connector'),
    form));
}

async function submit(ctx, f, existing) {
  const http = (existing?.type || f.type.value) === 'http';
  const rate = f.rate.value === '' ? null : Number(f.rate.value);
  if (!existing) {
    const body = { code: f.code.value.trim(), name: f.name.value.trim(), type: f.type.value, environment: f.environment.value };
    if (http) body.config = configOf(f);
    const creds = http ? credentialsOf(f) : null;
    if (creds) body.credentials = creds;
    if (rate !== null) body.rate_limit_per_minute = rate;
    const res = await post(`${BASE}/connectors`, body);
    ctx.go(`#/connectors/${encodeURIComponent(res.data.id)}`, `Connector “${res.data.name}” created.`);
    return;
  }
  // Only what changed: on a production connector any config, credentials or
  // environment in the body holds the whole change for approval.
  const body = {};
  if (f.name.value.trim() !== existing.name) body.name = f.name.value.trim();
  if (f.environment.value !== existing.environment) body.environment = f.environment.value;
  if (rate !== (existing.rate_limit_per_minute ?? null)) body.rate_limit_per_minute = rate;
  if (http) {
    const config = configOf(f);
    if (stable(config) !== stable(existing.config || {})) body.config = config;
    const creds = credentialsOf(f);
    if (creds) body.credentials = creds;
  }
  const res = await request('PATCH', `${BASE}/connectors/${encodeURIComponent(existing.id)}`, { body });
  const back = `#/connectors/${encodeURIComponent(existing.id)}`;
  if (res?.data?.change_request) {
    ctx.go(back, 'Sent for approval: this is a production connector, so another admin must approve the change before it applies. It is listed under Pending approvals.');
  } else {
    ctx.go(back, 'Changes saved.');
  }
}

/** Pause or resume, and delete (a 409 names what still uses the connector). */
export function connectorActions(ctx, c) {
  const active = c.is_active !== false;
  const pause = h('button', { type: 'button', id: 'connector-pause', class: 'button button-small button-secondary' }, active ? 'Pause connector' : 'Resume connector');
  pause.addEventListener('click', async () => {
    try {
      await request('PATCH', `${BASE}/connectors/${encodeURIComponent(c.id)}`, { body: { is_active: !active } });
      ctx.go(`#/connectors/${encodeURIComponent(c.id)}`, active ? 'Connector paused: its receivers refuse deliveries (410 Gone) and its syncs do not run.' : 'Connector resumed.');
    } catch (err) {
      showError(err);
    }
  });
  const why = h('div', { id: 'connector-delete-error', class: 'form-error', role: 'alert' });
  const remove = confirmButton({
    id: 'connector-delete',
    label: 'Delete connector',
    question: 'Its receivers and sync configurations stop; its events, runs and audit entries stay.',
    yes: `Delete ${c.name}`,
    act: async () => {
      try {
        await request('DELETE', `${BASE}/connectors/${encodeURIComponent(c.id)}`);
        ctx.go('#/connectors', `Connector “${c.name}” deleted.`);
      } catch (err) {
        mount(why, explainDelete(err));
      }
    },
  });
  return section('Pause or delete', h('div', { class: 'button-row' }, pause, remove), why);
}

/** A refused delete, in words. */
function explainDelete(err) {
  if (err.status !== 409) return err.message;
  const blocking = err.problem?.errors?.sync_configurations || [];
  return [h('p', null, 'It cannot be deleted while active scheduled sync configurations use it. Pause or delete these first:'),
    // "CRM customers (<id>)": people read the name.
    blocking.length ? h('ul', null, blocking.map((b) => h('li', null, `“${String(b).replace(/ \([^()]*\)$/, '')}”`))) : h('p', null, err.message)];
}

export function renderNew(ctx) {
  if (!ctx.isAdmin) {
    mount(ctx.main, empty('Only admins create connectors.'));
    return;
  }
  render(ctx, null);
}

export async function renderEdit(ctx) {
  const [id] = ctx.params;
  mount(ctx.main, loading());
  try {
    const res = await get(`${BASE}/connectors/${encodeURIComponent(id)}`);
    if (!ctx.alive()) return;
    if (!ctx.isAdmin) {
      mount(ctx.main, empty('Only admins change connectors.'));
      return;
    }
    render(ctx, res.data);
  } catch (err) {
    if (!ctx.alive()) return;
    showError(err, 'Could not load the connector');
    mount(ctx.main, empty(err.status === 404 ? 'This connector does not exist (or was deleted).' : 'The connector could not be loaded.'));
  }
}
