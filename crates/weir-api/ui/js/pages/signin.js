// Sign-in page: trades an API token for a cookie session.
// The token is sent once (POST /api/v1/session) and never stored in the browser.

import { post } from '../api.js';
import { h, mount } from '../dom.js';

export function render(main, { message, onSignedIn }) {
  const error = h('p', { id: 'signin-error', class: 'form-error', role: 'alert' }, message || '');
  const token = h('input', {
    id: 'token', name: 'token', type: 'password', required: true, autocomplete: 'off', spellcheck: 'false',
    'aria-describedby': 'token-help',
  });
  const submit = h('button', { type: 'submit', class: 'button' }, 'Sign in');

  const form = h('form', { id: 'signin-form', class: 'signin-form', novalidate: true },
    h('div', { class: 'field' },
      h('label', { for: 'token' }, 'API token'),
      token,
      h('p', { id: 'token-help', class: 'help' },
        'Paste an API token of your tenant. It is used once to open a session and is not stored in the browser.')),
    error,
    submit);

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const value = token.value.trim();
    if (!value) {
      mount(error, 'Enter an API token.');
      token.focus();
      return;
    }
    mount(error);
    submit.disabled = true;
    mount(submit, 'Signing in…');
    try {
      const res = await post('/api/v1/session', { token: value }, { allow401: true });
      token.value = '';
      onSignedIn(res.data);
    } catch (err) {
      mount(error, err.message || 'That token was not accepted.');
      submit.disabled = false;
      mount(submit, 'Sign in');
      token.select();
    }
  });

  mount(main, h('section', { class: 'signin' },
    h('div', { class: 'signin-card' },
      h('h1', null, h('img', { src: '/ui/favicon.svg', alt: '', width: 32, height: 32, class: 'signin-logo' }), 'Sign in to Weir'),
      form)));
  token.focus();
}
