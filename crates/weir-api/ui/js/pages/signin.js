// Sign-in page: a user's email and password (POST /api/v1/session),
// "Sign in with SSO" for tenants with an identity provider (the browser goes
// to GET /api/v1/sso/<tenant>/start and comes back signed in), or — for
// API-only tenants — an API token, under "Sign in with an API token".
// Nothing typed here is stored in the browser except the slug of the last
// tenant signed in to with SSO; the session is an HttpOnly cookie. Also the
// invitation page (#/invite/<token>), where an invited person sets their
// password, and the second step (#/signin/mfa/<challenge>) after SSO.

import { get, post } from '../api.js';
import { h, mount } from '../dom.js';

function field(id, label, attrs, help) {
  const input = h('input', { id, name: id, ...attrs, ...(help ? { 'aria-describedby': `${id}-help` } : {}) });
  const parts = [h('label', { for: id }, label), input];
  if (help) parts.push(h('p', { id: `${id}-help`, class: 'help' }, help));
  return { input, el: h('div', { class: 'field' }, ...parts) };
}

/** Wires a form's submit to `send`, with a busy button and an error line. */
function onSubmit(form, submit, error, label, send) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(error);
    submit.disabled = true;
    mount(submit, 'Signing in…');
    try {
      await send();
    } catch (err) {
      mount(error, err.message || 'That was not accepted.');
      submit.disabled = false;
      mount(submit, label);
    }
  });
}

function card(title, ...children) {
  return h('section', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('h1', null, h('img', { src: '/ui/favicon.svg', alt: '', width: 32, height: 32, class: 'signin-logo' }), title),
      ...children));
}

/** What each SSO refusal code (GET /api/v1/sso/callback) means, in words. */
const SSO_REFUSALS = {
  'sso-state-invalid': 'That sign-in link was used already or has expired. Start again.',
  'sso-other-browser': 'That sign-in was started in another browser. Start again here.',
  'sso-provider-error': 'The identity provider did not sign you in.',
  'sso-provider-unavailable': 'The identity provider could not be reached. Try again, or ask an admin.',
  'sso-id-token-invalid': "The identity provider's answer failed Weir's checks, so you were not signed in. Ask an admin.",
  'sso-email-missing': 'The identity provider sent no email address for you.',
  'sso-email-unverified': 'The identity provider did not confirm that your email address is verified.',
  'sso-claim-mismatch': "Your account does not meet this tenant's sign-in conditions. Ask an admin.",
  'sso-email-taken': 'Another account of this tenant has your email address. Ask an admin.',
  'sso-domain-not-allowed': 'Accounts of your email domain may not sign in to this tenant.',
  'sso-no-role': 'Your account has no role in this tenant. Ask an admin to map your group.',
  'sso-subject-mismatch': 'This email belongs to another identity in Weir. Ask an admin.',
  'sso-deactivated': 'Your Weir account is deactivated.',
};

/** The words for an SSO refusal code. */
export function ssoRefusal(code) {
  return SSO_REFUSALS[code] || 'Single sign-on did not sign you in.';
}

const SSO_TENANT_KEY = 'weir.sso-tenant';

function rememberedTenant() {
  try {
    return localStorage.getItem(SSO_TENANT_KEY) || '';
  } catch {
    return '';
  }
}

/** Sends the browser to the tenant's identity provider. */
function startSso(lookup) {
  try {
    localStorage.setItem(SSO_TENANT_KEY, lookup.tenant_slug);
  } catch {
    /* private mode: the slug is typed again next time */
  }
  location.assign(lookup.start_url);
}

/**
 * "Sign in with SSO": a button for a known tenant (from #/signin?tenant=<slug>
 * or the last SSO sign-in), else a field for the tenant's slug. For a tenant
 * that refuses passwords, `onSsoOnly` hides the password form.
 */
function ssoSection(tenant, refusal, onSsoOnly) {
  const error = h('p', { id: 'sso-error', class: 'form-error', role: 'alert' }, refusal || '');
  const slug = field('sso-tenant', 'Tenant', { type: 'text', required: true, autocomplete: 'organization', value: tenant || '',
    spellcheck: 'false' }, 'The short name of your organisation in Weir, e.g. acme.');
  const submit = h('button', { type: 'submit', class: 'button button-secondary', id: 'sso-continue' }, 'Continue with SSO');
  const form = h('form', { id: 'sso-form', class: 'signin-form', novalidate: true }, slug.el, submit);
  onSubmit(form, submit, error, 'Continue with SSO', async () => {
    const value = slug.input.value.trim().toLowerCase();
    if (!value) throw new Error('Enter your tenant.');
    let lookup;
    try {
      lookup = (await get(`/api/v1/sso/${encodeURIComponent(value)}`, null, { allow401: true })).data;
    } catch (err) {
      throw new Error(err.status === 404 ? `“${value}” has no single sign-on. Sign in with your email and password.`
        : err.message);
    }
    startSso(lookup);
  });
  const box = h('details', { id: 'sso-signin', class: 'signin-alt', open: Boolean(refusal) },
    h('summary', null, 'Sign in with SSO'), form, error);
  if (tenant) {
    get(`/api/v1/sso/${encodeURIComponent(tenant)}`, null, { allow401: true }).then((res) => {
      const lookup = res.data;
      const button = h('button', { type: 'button', class: 'button', id: 'sso-start' },
        `Sign in with SSO to ${lookup.tenant_name}`);
      button.addEventListener('click', () => startSso(lookup));
      box.open = true;
      form.replaceWith(h('div', { class: 'signin-form' }, button));
      if (lookup.sso_only) onSsoOnly(lookup);
    }).catch(() => { /* no SSO there: the field stays */ });
  }
  return box;
}

export function render(main, { message, notice, email: knownEmail, tenant, ssoRefused, onSignedIn }) {
  const error = h('p', { id: 'password-error', class: 'form-error', role: 'alert' }, message || '');
  const note = h('p', { id: 'signin-notice', class: 'help', role: 'status' }, notice || '');
  const email = field('email', 'Email', { type: 'email', required: true, autocomplete: 'username', value: knownEmail || '' });
  const password = field('password', 'Password', { type: 'password', required: true, autocomplete: 'current-password' });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Sign in');
  const form = h('form', { id: 'password-form', class: 'signin-form', novalidate: true },
    note, email.el, password.el, error, submit);
  onSubmit(form, submit, error, 'Sign in', async () => {
    const body = { email: email.input.value.trim(), password: password.input.value };
    if (!body.email || !body.password) throw new Error('Enter your email and password.');
    const res = await post('/api/v1/session', body, { allow401: true });
    password.input.value = '';
    if (res.data && res.data.mfa_required) {
      renderSecondStep(main, { mfaToken: res.data.mfa_token, onSignedIn });
      return;
    }
    onSignedIn(res.data);
  });

  // API-only tenants: a token, used once to open the session.
  const tokenError = h('p', { id: 'signin-error', class: 'form-error', role: 'alert' });
  const token = field('token', 'API token', { type: 'password', required: true, autocomplete: 'off', spellcheck: 'false' },
    'Paste an API token of your tenant. It is used once to open a session and is not stored in the browser.');
  const tokenSubmit = h('button', { type: 'submit', class: 'button button-secondary' }, 'Sign in with token');
  const tokenForm = h('form', { id: 'signin-form', class: 'signin-form', novalidate: true },
    token.el, tokenError, tokenSubmit);
  onSubmit(tokenForm, tokenSubmit, tokenError, 'Sign in with token', async () => {
    const value = token.input.value.trim();
    if (!value) throw new Error('Enter an API token.');
    try {
      const res = await post('/api/v1/session', { token: value }, { allow401: true });
      token.input.value = '';
      onSignedIn(res.data);
    } catch (err) {
      token.input.select();
      throw new Error(err.message || 'That token was not accepted.');
    }
  });
  const tokenBox = h('details', { id: 'token-signin', class: 'signin-alt' },
    h('summary', null, 'Sign in with an API token'), tokenForm);

  const sso = ssoSection(tenant || rememberedTenant(), ssoRefused, (lookup) => {
    form.hidden = true;
    tokenBox.hidden = true;
    mount(note, `${lookup.tenant_name} signs in with single sign-on only.`);
    sso.before(note);
    document.getElementById('sso-start')?.focus();
  });
  mount(main, card('Sign in to Weir', form, sso, tokenBox));
  if (ssoRefused) sso.querySelector('summary').focus();
  else (knownEmail ? password.input : email.input).focus();
}

/** The invitation page: choose a password, then sign in. */
export function renderInvite(main, { token, onAccepted }) {
  const error = h('p', { id: 'invite-error', class: 'form-error', role: 'alert' });
  const password = field('new-password', 'Choose a password',
    { type: 'password', required: true, autocomplete: 'new-password', minlength: 12 },
    'At least 12 characters. Common passwords, and ones made of your name or email, are refused.');
  const repeat = field('repeat-password', 'Repeat it', { type: 'password', required: true, autocomplete: 'new-password' });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Set password');
  const form = h('form', { id: 'invite-form', class: 'signin-form', novalidate: true },
    password.el, repeat.el, error, submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(error);
    if (password.input.value !== repeat.input.value) {
      mount(error, 'The two passwords differ.');
      repeat.input.focus();
      return;
    }
    submit.disabled = true;
    try {
      const res = await post(`/api/v1/invites/${encodeURIComponent(token)}/accept`, { password: password.input.value },
        { allow401: true });
      onAccepted(res.data);
    } catch (err) {
      const gone = err.status === 404;
      mount(error, gone ? 'This invitation link was used already or has expired. Ask an admin for a new one.'
        : err.message || 'That password was not accepted.');
      submit.disabled = false;
      password.input.focus();
    }
  });
  mount(main, card('Welcome to Weir', h('p', null, 'Set a password to finish your invitation.'), form));
  password.input.focus();
}

/** The second step of a sign-in: a code from the authenticator app, or a recovery code. */
export function renderSecondStep(main, { mfaToken, onSignedIn }) {
  const error = h('p', { id: 'mfa-error', class: 'form-error', role: 'alert' });
  const code = field('mfa-code', 'Code from your authenticator app',
    { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]{6}', maxlength: 6, required: true });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Verify');
  const form = h('form', { id: 'mfa-form', class: 'signin-form', novalidate: true }, code.el, error, submit);
  onSubmit(form, submit, error, 'Verify', async () => {
    const value = code.input.value.trim();
    if (!/^[0-9]{6}$/.test(value)) throw new Error('Enter the six digits your app shows.');
    const res = await post('/api/v1/session/mfa', { mfa_token: mfaToken, code: value }, { allow401: true });
    onSignedIn(res.data);
  });

  const recoveryError = h('p', { id: 'recovery-error', class: 'form-error', role: 'alert' });
  const recovery = field('recovery-code', 'Recovery code', { type: 'text', autocomplete: 'off', spellcheck: 'false' },
    'One of the codes you saved when you turned on the second factor. Each works once.');
  const recoverySubmit = h('button', { type: 'submit', class: 'button button-secondary' }, 'Use recovery code');
  const recoveryForm = h('form', { id: 'recovery-form', class: 'signin-form', novalidate: true },
    recovery.el, recoveryError, recoverySubmit);
  onSubmit(recoveryForm, recoverySubmit, recoveryError, 'Use recovery code', async () => {
    const value = recovery.input.value.trim();
    if (!value) throw new Error('Enter a recovery code.');
    const res = await post('/api/v1/session/mfa', { mfa_token: mfaToken, recovery_code: value }, { allow401: true });
    onSignedIn(res.data);
  });
  const alt = h('details', { id: 'recovery-signin', class: 'signin-alt' },
    h('summary', null, 'Use a recovery code instead'), recoveryForm);
  mount(main, card('Second step', h('p', null, 'Your account has a second factor.'), form, alt));
  code.input.focus();
}
