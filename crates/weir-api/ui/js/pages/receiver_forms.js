// Webhook receivers on a connector's page (admin): add one (its secret is
// shown once, with its receive URL, each with a copy button), rotate its
// secret (the old one keeps working for 24 hours unless ended now), pause
// or resume it, delete it.

import { BASE, post, request } from '../api.js';
import { h, mount } from '../dom.js';
import { confirmButton, input, options, row, showProblem } from '../forms.js';
import { copyButton, flash, section, showError } from '../widgets.js';

const METHODS = [
  ['standard_webhooks', 'Standard Webhooks (Svix and others)'],
  ['stripe', 'Stripe'],
  ['github', 'GitHub'],
  ['shopify', 'Shopify'],
  ['slack', 'Slack'],
  ['hmac_sha256', 'HMAC-SHA256 of the body'],
  ['bearer', 'Bearer token'],
  ['api_key', 'API key header'],
];

/** The full receive URL of a receiver (the API gives a path). */
export function receiveUrl(r, connector) {
  const path = r.receive_url || r.receiver_url
    || `${BASE}/webhooks/${encodeURIComponent(connector.code)}/receive/${encodeURIComponent(r.receiver_key || r.key || '')}`;
  return path.startsWith('/') ? location.origin + path : path;
}

/** A secret shown once, with a copy button and what to do with it. */
function secretOnce(id, secret, lead) {
  const code = h('code', { id, class: 'wrap' }, secret);
  return h('div', { class: 'secret-once', role: 'status' },
    h('p', null, lead, ' It is not shown again: copy it now and give it to the sender.'),
    h('div', { class: 'copy-row' }, code, copyButton(secret, code, 'Copy secret')));
}

/** "Add receiver" form; `onCreated` gets the new receiver (with its secret). */
export function addReceiverForm(connector, onCreated) {
  const name = input('receiver-name', { placeholder: 'e.g. Shopify orders' });
  const eventType = input('receiver-event-type', { value: '*' });
  const method = options('receiver-method', METHODS, 'standard_webhooks');
  const own = input('receiver-secret', { type: 'password', autocomplete: 'new-password' });
  const result = h('div', { id: 'receiver-created', 'aria-live': 'polite' });
  const form = h('form', { id: 'receiver-form', class: 'stack-form', novalidate: true },
    h('div', { class: 'form-error', role: 'alert' }),
    row({ label: 'Name', control: name, name: 'name', help: 'How people will know it; blank = its event type.' }),
    row({ label: 'Event type', control: eventType, name: 'event_type', help: '“*” takes the type from the delivery’s headers or body.' }),
    row({ label: 'Verification', control: method, name: 'auth', help: 'How Weir checks that a delivery really comes from the sender.' }),
    row({ label: 'Secret (optional)', control: own, name: 'secret', help: 'The sender’s own secret (e.g. Stripe’s whsec_…); blank = Weir makes one.' }),
    h('div', { class: 'button-row' }, h('button', { type: 'submit', id: 'receiver-create', class: 'button' }, 'Add receiver')),
    result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { event_type: eventType.value.trim(), auth: { method: method.value } };
    if (name.value.trim()) body.name = name.value.trim();
    if (own.value) body.secret = own.value;
    try {
      const res = await post(`${BASE}/connectors/${encodeURIComponent(connector.id)}/webhook-receivers`, body);
      const r = res.data;
      const full = receiveUrl(r, connector);
      const urlCode = h('code', { id: 'receiver-url', class: 'url' }, full);
      mount(result,
        h('p', null, 'Receiver added. Point the sender at this URL:'),
        h('div', { class: 'copy-row' }, urlCode, copyButton(full, urlCode, 'Copy URL')),
        secretOnce('receiver-new-secret', r.secret, 'Its signing secret:'));
      own.value = '';
      name.value = '';
      onCreated(r);
    } catch (err) {
      showProblem(form, err);
    }
  });
  return section('Add a receiver', form);
}

/** Row actions: pause/resume, rotate secret, delete. `out` shows a rotated secret. */
export function receiverActions(r, { out, onChanged }) {
  const active = r.is_active !== false;
  const pause = h('button', { type: 'button', class: 'button button-small button-secondary', 'data-pause-receiver': r.id },
    active ? 'Pause' : 'Resume');
  pause.addEventListener('click', async () => {
    try {
      await request('PATCH', `${BASE}/webhook-receivers/${encodeURIComponent(r.id)}`, { body: { is_active: !active } });
      flash(active ? 'Receiver paused: deliveries are refused (410 Gone) until it is resumed.' : 'Receiver resumed.');
      onChanged();
    } catch (err) {
      showError(err);
    }
  });
  const rotate = confirmButton({
    id: `rotate-${r.id}`,
    label: 'Rotate secret',
    question: 'A new secret is made; the old one keeps working for 24 hours, so the sender can switch over.',
    yes: 'Rotate',
    act: async () => {
      try {
        const res = await post(`${BASE}/webhook-receivers/${encodeURIComponent(r.id)}/rotate-secret`, {});
        mount(out, secretOnce('receiver-rotated-secret', res.data.secret,
          'The new secret. The old one is accepted for 24 more hours, then refused.'));
      } catch (err) {
        showError(err);
      }
    },
  });
  const remove = confirmButton({
    id: `delete-${r.id}`,
    label: 'Delete',
    question: 'Its URL answers 404 from now on; its events stay.',
    yes: 'Delete receiver',
    act: async () => {
      try {
        await request('DELETE', `${BASE}/webhook-receivers/${encodeURIComponent(r.id)}`);
        flash('Receiver deleted.');
        onChanged();
      } catch (err) {
        showError(err);
      }
    },
  });
  return h('div', { class: 'button-row' }, pause, rotate, remove);
}
