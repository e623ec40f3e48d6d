// Form pieces shared by the console's create and edit forms: labelled rows
// with a help text and an error slot, the API's 422 field errors shown next
// to their fields, and an in-page two-step confirmation for destructive
// actions.

import { h, mount } from './dom.js';

/**
 * A labelled row for `control`. `name` is the API's field name (e.g.
 * `config.base_url`): a 422 naming it is shown in the row's error slot.
 */
export function row({ label, control, name, help }) {
  const id = control.id;
  const helpEl = help ? h('p', { id: `${id}-help`, class: 'help' }, help) : null;
  const error = h('p', { id: `${id}-error`, class: 'field-error' });
  control.setAttribute('aria-describedby', [helpEl ? `${id}-help` : null, `${id}-error`].filter(Boolean).join(' '));
  return h('div', { class: 'field form-row', 'data-field': name || '' }, h('label', { for: id }, label), control, helpEl, error);
}

export function input(id, { type = 'text', value = '', placeholder, required, autocomplete = 'off', min, max } = {}) {
  return h('input', { id, name: id, type, value: value ?? '', placeholder, required, autocomplete, min, max });
}

export function options(id, choices, value) {
  return h('select', { id, name: id },
    choices.map(([v, label]) => h('option', { value: v, selected: String(v) === String(value ?? '') }, label)));
}

/** Removes every field error and the summary. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) mount(el);
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const summary = form.querySelector('.form-error');
  if (summary) mount(summary);
}

/** The row of API field `name`, or of its closest named parent (`config.auth.type` → `config.auth`, `config`). */
function rowFor(form, name) {
  for (let n = name; n; n = n.includes('.') ? n.slice(0, n.lastIndexOf('.')) : '') {
    const el = form.querySelector(`[data-field="${CSS.escape(n)}"]`);
    if (el) return el;
  }
  return null;
}

/**
 * Shows an API error on `form`: each 422 field error in its row (the first
 * such field gets the focus), and the rest in the form's summary
 * (`.form-error`, role=alert), in words.
 */
export function showProblem(form, err) {
  clearErrors(form);
  const summary = form.querySelector('.form-error');
  const problem = err?.problem || {};
  const leftover = [];
  let first = null;
  for (const [name, msgs] of Object.entries(problem.errors || {})) {
    const text = Array.isArray(msgs) ? msgs.join('; ') : String(msgs);
    const r = rowFor(form, name);
    if (!r) {
      leftover.push(`${name}: ${text}`);
      continue;
    }
    const slot = r.querySelector('.field-error');
    mount(slot, slot.textContent ? `${slot.textContent}; ${text}` : text);
    const control = r.querySelector('input, select, textarea');
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      first = first || control;
    }
  }
  const said = problem.detail || problem.title || err?.message || 'The request failed.';
  const headline = said.charAt(0).toUpperCase() + said.slice(1);
  if (summary) {
    mount(summary, first ? `${headline} — see the marked fields.` : headline,
      leftover.length ? h('ul', null, leftover.map((l) => h('li', null, l))) : null);
  }
  if (first) first.focus();
}

/**
 * A button that asks before it acts: the first click shows `question` with
 * a confirming button (`yes`) and Cancel; the confirming click runs `act`.
 */
export function confirmButton({ label, question, yes, act, id }) {
  const box = h('span', { class: 'row-actions' });
  const ask = h('button', { type: 'button', id, class: 'button button-small button-secondary' }, label);
  const reset = () => {
    mount(box, ask);
    ask.focus();
  };
  ask.addEventListener('click', () => {
    const confirm = h('button', { type: 'button', id: id ? `${id}-confirm` : null, class: 'button button-small button-danger' }, yes);
    const cancel = h('button', { type: 'button', class: 'button button-small button-secondary' }, 'Cancel');
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      try {
        await act();
      } finally {
        if (confirm.isConnected) reset();
      }
    });
    cancel.addEventListener('click', reset);
    mount(box, h('span', null, question, ' '), confirm, ' ', cancel);
    confirm.focus();
  });
  mount(box, ask);
  return box;
}
