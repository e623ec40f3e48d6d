// Profile (a signed-in user): who they are, change password, and the
// second factor — enrol with an authenticator app (the key and its
// otpauth URI; the first code confirms it and answers recovery codes,
// shown once) or turn it off with the password.

import { get, post, request } from '../api.js';
import { h, mount, time } from '../dom.js';
import { copyButton, dataTable, field, flash, kvList, loading, pill, section, showError } from '../widgets.js';

function passwordInput(id, autocomplete) {
  return h('input', { id, name: id, type: 'password', required: true, autocomplete });
}

function passwordSection() {
  const current = passwordInput('current-password', 'current-password');
  const next = passwordInput('new-password', 'new-password');
  const error = h('p', { id: 'password-change-error', class: 'form-error', role: 'alert' });
  const form = h('form', { id: 'password-change-form', class: 'stack-form', novalidate: true },
    field('Current password', 'current-password', current),
    field('New password (at least 12 characters, not common or made of your name or email)', 'new-password', next),
    error,
    h('button', { type: 'submit', class: 'button' }, 'Change password'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(error);
    try {
      await post('/api/v1/me/password', { current_password: current.value, new_password: next.value });
      current.value = '';
      next.value = '';
      flash('Password changed. Your other sessions and tokens were signed out.');
    } catch (err) {
      mount(error, err.message);
    }
  });
  return section('Password', form);
}

function recoveryList(codes) {
  const list = h('ol', { id: 'recovery-codes', class: 'recovery-codes' }, codes.map((c) => h('li', null, h('code', null, c))));
  return h('div', { class: 'panel-note' },
    h('p', null, 'Save these recovery codes somewhere safe. Each signs you in once if you lose your device. They are not shown again.'),
    list, copyButton(codes.join('\n'), list, 'Copy codes'));
}

function enrolForm(box, me, onDone) {
  const start = h('button', { type: 'button', id: 'mfa-start', class: 'button' },
    me.mfa ? 'Move to a new authenticator app' : 'Set up an authenticator app');
  // Replacing a factor needs the current password.
  const current = me.mfa ? passwordInput('mfa-replace-password', 'current-password') : null;
  start.addEventListener('click', async () => {
    try {
      const { data } = await post('/api/v1/me/mfa', current ? { password: current.value } : undefined);
      const code = h('input', { id: 'mfa-confirm-code', name: 'mfa-confirm-code', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 6, required: true });
      const error = h('p', { id: 'mfa-confirm-error', class: 'form-error', role: 'alert' });
      const secret = h('code', { id: 'mfa-secret' }, data.secret);
      const uri = h('code', { id: 'mfa-uri', class: 'wrap' }, data.otpauth_uri);
      const form = h('form', { id: 'mfa-confirm-form', class: 'stack-form', novalidate: true },
        h('p', null, 'Add this key to your authenticator app (type the key, or import the URI), then enter the code it shows.'),
        kvList([['Key', h('span', null, secret, ' ', copyButton(data.secret, secret))], ['URI', h('span', null, uri, ' ', copyButton(data.otpauth_uri, uri))]]),
        field('Code', 'mfa-confirm-code', code), error,
        h('button', { type: 'submit', class: 'button' }, 'Turn on'));
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        mount(error);
        try {
          const res = await post('/api/v1/me/mfa/confirm', { code: code.value.trim() });
          mount(box, h('p', null, 'The second factor is on.'), recoveryList(res.data.recovery_codes));
          onDone();
        } catch (err) {
          mount(error, err.message);
        }
      });
      mount(box, form);
      code.focus();
    } catch (err) {
      showError(err);
    }
  });
  mount(box, h('p', null, me.mfa ? 'The second factor is on.' : 'Sign-in asks only for your password.'),
    current ? field('Your password, to move to a new app', 'mfa-replace-password', current) : null, start);
}

function disableForm() {
  const password = passwordInput('mfa-disable-password', 'current-password');
  const error = h('p', { id: 'mfa-disable-error', class: 'form-error', role: 'alert' });
  const form = h('form', { id: 'mfa-disable-form', class: 'stack-form', novalidate: true },
    field('Your password, to turn it off', 'mfa-disable-password', password), error,
    h('button', { type: 'submit', class: 'button button-secondary' }, 'Turn off the second factor'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await post('/api/v1/me/mfa/disable', { password: password.value });
      password.value = '';
      flash('The second factor is off.');
    } catch (err) {
      mount(error, err.message);
    }
  });
  return form;
}

/** A button that DELETEs `path`, then reloads the list. */
function endButton(label, path, attrs, onDone) {
  const button = h('button', { type: 'button', class: 'button button-small button-secondary', ...attrs }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await request('DELETE', path);
      onDone();
    } catch (err) {
      showError(err);
      button.disabled = false;
    }
  });
  return button;
}

function accessSections() {
  const sessions = h('div', { id: 'own-sessions' }, loading());
  const tokens = h('div', { id: 'own-tokens' }, loading());
  const load = async () => {
    try {
      const [{ data: ss }, { data: ts }] = await Promise.all([get('/api/v1/me/sessions'), get('/api/v1/me/tokens')]);
      mount(sessions, dataTable({
        id: 'own-sessions-table',
        caption: 'Your sessions',
        columns: [
          { label: 'Signed in', cell: (x) => time(x.created_at) },
          { label: 'Ends', cell: (x) => time(x.expires_at) },
          { label: 'Actions', cell: (x) => (x.current ? 'this session'
            : endButton('Sign out', `/api/v1/me/sessions/${encodeURIComponent(x.id)}`, { 'data-end-session': x.id }, load)) },
        ],
        rows: ss,
        emptyText: 'No sessions.',
      }));
      mount(tokens, dataTable({
        id: 'own-tokens-table',
        caption: 'Your API tokens',
        columns: [
          { label: 'Name', cell: (t) => t.name },
          { label: 'Role', cell: (t) => t.role },
          { label: 'Last used', cell: (t) => (t.last_used_at ? time(t.last_used_at) : 'never') },
          { label: 'Expires', cell: (t) => (t.expires_at ? time(t.expires_at) : 'never') },
          { label: 'State', cell: (t) => pill(t.revoked_at ? 'revoked' : 'active') },
          { label: 'Actions', cell: (t) => (t.revoked_at ? '—'
            : endButton('Revoke', `/api/v1/me/tokens/${encodeURIComponent(t.id)}`, { 'data-revoke-token': t.id }, load)) },
        ],
        rows: ts,
        emptyText: 'You have no API tokens. An admin mints one with POST /api/v1/tokens while signed in.',
      }));
    } catch (err) {
      showError(err);
    }
  };
  load();
  return [section('Your sessions', sessions), section('Your API tokens', tokens)];
}

export async function render(ctx) {
  const body = h('div', null, loading());
  mount(ctx.main, h('section', { class: 'page' }, h('h1', null, 'Your profile'), body));
  try {
    const { data: me } = await get('/api/v1/me');
    if (!ctx.alive()) return;
    if (me.kind !== 'user') {
      mount(body, h('p', null, 'This session was opened with an API token; a profile belongs to a signed-in person.'));
      return;
    }
    const box = h('div', { id: 'mfa-box' });
    const required = ctx.session.must_enrol_mfa
      ? h('p', { class: 'form-error', role: 'alert' }, 'This tenant requires admins to sign in with a second factor. Set one up to continue.')
      : null;
    enrolForm(box, { mfa: me.mfa_enabled }, () => ctx.onEnrolled());
    mount(body,
      section('You', kvList([['Name', me.user.name], ['Email', me.user.email], ['Role', me.role]])),
      section('Second factor', required, box, me.mfa_enabled ? disableForm() : null),
      passwordSection(),
      ctx.session.must_enrol_mfa ? null : accessSections());
  } catch (err) {
    showError(err);
  }
}
