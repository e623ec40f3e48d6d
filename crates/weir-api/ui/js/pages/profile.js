// Profile (a signed-in user): who they are, change password, and the
// second factor — enrol with an authenticator app (the key and its
// otpauth URI; the first code confirms it and answers recovery codes,
// shown once) or turn it off with the password.

import { get, post } from '../api.js';
import { h, mount } from '../dom.js';
import { copyButton, field, flash, kvList, loading, section, showError } from '../widgets.js';

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
  start.addEventListener('click', async () => {
    try {
      const { data } = await post('/api/v1/me/mfa');
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
  mount(box, h('p', null, me.mfa ? 'The second factor is on.' : 'Sign-in asks only for your password.'), start);
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
      passwordSection());
  } catch (err) {
    showError(err);
  }
}
