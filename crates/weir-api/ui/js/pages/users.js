// Users (admin): the tenant's people — invite (the single-use link is shown
// once, with a copy button), change role, deactivate, and when each last
// signed in.

import { getList, pageParam, post, request } from '../api.js';
import { h, mount, time } from '../dom.js';
import { copyButton, dataTable, empty, field, flash, loading, pager, pill, section, select, showError } from '../widgets.js';

const ROLES = [['viewer', 'Viewer'], ['operator', 'Operator'], ['admin', 'Admin']];

function inviteForm(onInvited) {
  const email = h('input', { id: 'invite-email', name: 'invite-email', type: 'email', required: true, autocomplete: 'off' });
  const name = h('input', { id: 'invite-name', name: 'invite-name', type: 'text', required: true, autocomplete: 'off' });
  const role = select('invite-role', ROLES, 'viewer');
  const error = h('p', { id: 'invite-user-error', class: 'form-error', role: 'alert' });
  const result = h('div', { id: 'invite-result', 'aria-live': 'polite' });
  const form = h('form', { id: 'invite-user-form', class: 'filters', novalidate: true },
    field('Email', 'invite-email', email), field('Name', 'invite-name', name), field('Role', 'invite-role', role),
    h('div', { class: 'field' }, h('span', { class: 'field-label' }, '\u00a0'), h('button', { type: 'submit', class: 'button' }, 'Invite')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    mount(error);
    try {
      const { data } = await post('/api/v1/users', { email: email.value.trim(), name: name.value.trim(), role: role.value });
      const link = `${location.origin}${data.invite_url}`;
      const code = h('code', { id: 'invite-link', class: 'wrap' }, link);
      mount(result, h('p', null, `Send ${data.name} this link; it works once, until `, time(data.invite_expires_at),
        '. It is not shown again:'), code, ' ', copyButton(link, code, 'Copy link'));
      email.value = '';
      name.value = '';
      onInvited();
    } catch (err) {
      mount(error, err.message);
    }
  });
  return section('Invite someone', form, error, result);
}

function roleControl(user, me, onChanged) {
  if (user.status === 'deactivated') return user.role;
  const control = select(`role-${user.id}`, ROLES, user.role);
  control.setAttribute('aria-label', `Role of ${user.name}`);
  control.disabled = user.id === me;
  control.addEventListener('change', async () => {
    try {
      await request('PATCH', `/api/v1/users/${encodeURIComponent(user.id)}`, { body: { role: control.value } });
      flash(`${user.name} is now ${control.value}.`);
      onChanged();
    } catch (err) {
      showError(err);
      control.value = user.role;
    }
  });
  return control;
}

/** Deactivate, with an in-page confirmation (the second click acts). */
function deactivateButton(user, me, onChanged) {
  if (user.status === 'deactivated' || user.id === me) return '';
  const box = h('span', { class: 'row-actions' });
  const ask = h('button', { type: 'button', class: 'button button-small button-secondary', 'data-deactivate': user.id }, 'Deactivate');
  ask.addEventListener('click', () => {
    const yes = h('button', { type: 'button', class: 'button button-small button-danger', 'data-confirm-deactivate': user.id },
      `Deactivate ${user.name}`);
    const no = h('button', { type: 'button', class: 'button button-small button-secondary' }, 'Cancel');
    yes.addEventListener('click', async () => {
      yes.disabled = true;
      try {
        await request('DELETE', `/api/v1/users/${encodeURIComponent(user.id)}`);
        flash(`${user.name} is deactivated; their sessions and tokens ended.`);
        onChanged();
      } catch (err) {
        showError(err);
        yes.disabled = false;
      }
    });
    no.addEventListener('click', () => {
      mount(box, ask);
      ask.focus();
    });
    mount(box, h('span', null, 'Their sessions and tokens end at once. '), yes, ' ', no);
    yes.focus();
  });
  mount(box, ask);
  return box;
}

export async function render(ctx) {
  let page = pageParam(ctx.query.get('page'));
  const list = h('div', null, loading());
  const me = ctx.session.user ? ctx.session.user.id : null;
  const load = async () => {
    try {
      const { data, meta } = await getList('/api/v1/users', { page, per_page: 50 });
      if (!ctx.alive()) return;
      if (!data.length) {
        mount(list, empty(h('p', null, 'No users yet. Invite the people who run this tenant above.')));
        return;
      }
      mount(list, dataTable({
        id: 'users-table',
        caption: 'Users',
        columns: [
          { label: 'Name', cell: (u) => u.name },
          { label: 'Email', cell: (u) => u.email },
          { label: 'Role', cell: (u) => roleControl(u, me, load) },
          { label: 'Status', cell: (u) => pill(u.status) },
          { label: 'Last sign-in', cell: (u) => (u.last_sign_in_at ? time(u.last_sign_in_at) : 'never') },
          { label: 'Actions', cell: (u) => deactivateButton(u, me, load) || '—' },
        ],
        rows: data,
        rowAttrs: (u) => ({ 'data-user-id': u.id }),
      }), pager(meta, (p) => {
        page = p;
        ctx.setQuery({ page });
        load();
      }));
    } catch (err) {
      showError(err);
    }
  };
  mount(ctx.main, h('section', { class: 'page' }, h('h1', null, 'Users'), inviteForm(load), section('People', list)));
  await load();
}
