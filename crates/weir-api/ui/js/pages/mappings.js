// Field mappings: #/field-mappings (list), #/field-mappings/new and
// #/field-mappings/<id> (the editor, admin; others see it read-only).
//
// The editor holds the rules as a table (source, target, transforms,
// default, required) with a JSON tab, and beside it a live preview: the
// record the rules on screen make from a pasted sample or a recent stored
// event, with each rule's error, through POST /field-mappings/preview
// (writes nothing), refreshed as you type.

import { BASE, get, getList, post, request } from '../api.js';
import { h, mount, time } from '../dom.js';
import { confirmButton, input, row, showProblem } from '../forms.js';
import { dataTable, empty, loading, section, showError } from '../widgets.js';

// ------------------------------------------------------------ transforms

/** `trim | round {"digits": 2}` → [{op: 'trim'}, {op: 'round', digits: 2}]; throws on bad JSON. */
export function parseTransforms(text) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '{') depth += 1;
    if (ch === '}') depth -= 1;
    if (ch === '|' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter(Boolean).map((p) => {
    const i = p.indexOf('{');
    const op = (i < 0 ? p : p.slice(0, i)).trim();
    return i < 0 ? { op } : { op, ...JSON.parse(p.slice(i)) };
  });
}

export function showTransforms(list) {
  return (list || []).map(({ op, ...opts }) => (Object.keys(opts).length ? `${op} ${JSON.stringify(opts)}` : op)).join(' | ');
}

// ----------------------------------------------------------------- rules

function ruleRow(rule, i, onChange, onRemove) {
  const cell = (name, value, label) => {
    const el = input(`rule-${i}-${name}`, { value });
    el.setAttribute('aria-label', `Rule ${i + 1} ${label}`);
    el.addEventListener('input', onChange);
    return h('td', null, el);
  };
  const required = h('input', { type: 'checkbox', id: `rule-${i}-required`, checked: !!rule.required, 'aria-label': `Rule ${i + 1} required` });
  required.addEventListener('change', onChange);
  const remove = h('button', { type: 'button', class: 'button button-small button-secondary', 'aria-label': `Remove rule ${i + 1}` }, 'Remove');
  remove.addEventListener('click', onRemove);
  const def = rule.default === undefined ? '' : typeof rule.default === 'string' ? rule.default : JSON.stringify(rule.default);
  return h('tr', { 'data-rule': i },
    cell('source', rule.source ?? '', 'source'), cell('target', rule.target ?? '', 'target'),
    cell('transforms', showTransforms(rule.transforms), 'transforms'), cell('default', def, 'default'),
    h('td', null, required), h('td', null, remove),
    h('td', { class: 'rule-error', id: `rule-${i}-error` }));
}

/** The rules the table holds (throws with a message on a bad transform). */
function readRules(tbody) {
  return [...tbody.querySelectorAll('tr[data-rule]')].map((tr) => {
    const i = tr.dataset.rule;
    const v = (name) => tr.querySelector(`#rule-${i}-${name}`).value.trim();
    const rule = { target: v('target') };
    if (v('source')) rule.source = v('source');
    try {
      const t = parseTransforms(v('transforms'));
      if (t.length) rule.transforms = t;
    } catch {
      throw new Error(`Rule ${Number(i) + 1}: transform options must be JSON, e.g. round {"digits": 2}`);
    }
    if (v('default')) {
      try { rule.default = JSON.parse(v('default')); } catch { rule.default = v('default'); }
    }
    if (tr.querySelector(`#rule-${i}-required`).checked) rule.required = true;
    return rule;
  });
}

// --------------------------------------------------------------- preview

function previewPanel(ctx, getDraft) {
  const mode = h('select', { id: 'preview-source', name: 'preview-source' },
    h('option', { value: 'sample' }, 'A pasted sample'), h('option', { value: 'event' }, 'A recent event'));
  const sample = h('textarea', { id: 'preview-sample', name: 'preview-sample', rows: 8 }, '{\n  "data": {"id": 1, "email": "Ann@Example.com"}\n}');
  const events = h('select', { id: 'preview-event', name: 'preview-event' }, h('option', { value: '' }, 'Loading…'));
  const out = h('pre', { id: 'preview-output', class: 'json', 'aria-live': 'polite' });
  const errs = h('ul', { id: 'preview-errors', class: 'form-error' });
  getList(`${BASE}/webhook-events`, { per_page: 20 }).then(({ data }) => {
    mount(events, data.length ? data.map((e) => h('option', { value: e.id }, `${e.event_type} · ${new Date(e.received_at).toLocaleString()}`))
      : h('option', { value: '' }, 'No events yet'));
  }).catch(() => mount(events, h('option', { value: '' }, 'Events could not be loaded')));
  let timer = null;
  let asked = 0;
  const run = async () => {
    const mine = ++asked;
    let draft;
    try {
      draft = getDraft();
    } catch (e) {
      mount(errs, h('li', null, e.message));
      return;
    }
    const body = { key: draft.key, rules: draft.rules };
    if (mode.value === 'event') body.event_id = events.value || null;
    else {
      try { body.sample = JSON.parse(sample.value); } catch { mount(errs, h('li', null, 'The sample is not JSON.')); return; }
    }
    try {
      const res = await post(`${BASE}/field-mappings/preview`, body);
      if (mine !== asked) return;
      mount(out, JSON.stringify(res.data.output, null, 2));
      mount(errs, (res.data.errors || []).map((e) => h('li', null, `${e.target}: ${e.message}`)));
      draft.markRules(res.data.errors || [], null);
    } catch (err) {
      if (mine !== asked) return;
      mount(out);
      const fields = err.problem?.errors || {};
      mount(errs, Object.keys(fields).length ? Object.entries(fields).map(([k, m]) => h('li', null, `${k}: ${[].concat(m).join('; ')}`)) : h('li', null, err.message));
      draft.markRules([], fields);
    }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(run, 300); };
  for (const el of [mode, sample, events]) el.addEventListener('input', later);
  mode.addEventListener('change', () => {
    sample.closest('.field').hidden = mode.value !== 'sample';
    events.closest('.field').hidden = mode.value !== 'event';
    later();
  });
  const panel = section('Preview (nothing is written)',
    row({ label: 'Try it on', control: mode }), row({ label: 'Sample payload', control: sample }),
    row({ label: 'Event', control: events }), h('h3', null, 'The record'), out, errs);
  events.closest('.field').hidden = true;
  return { panel, later };
}

// ---------------------------------------------------------------- editor

async function editor(ctx, existing) {
  const name = input('mapping-name', { value: existing?.name });
  const entity = input('mapping-entity-type', { value: existing?.entity_type, placeholder: 'customer' });
  const key = input('mapping-key', { value: existing?.key || 'external_id' });
  const tbody = h('tbody');
  let rules = existing?.rules?.length ? existing.rules : [{ source: 'data.id', target: 'external_id', transforms: [{ op: 'to_string' }], required: true }];
  const json = h('textarea', { id: 'mapping-json', name: 'mapping-json', rows: 16, class: 'code' });
  const summary = h('div', { class: 'form-error', role: 'alert' });
  let preview = null;
  const draw = () => {
    mount(tbody, rules.map((r, i) => ruleRow(r, i, () => preview.later(), () => { rules = readRules(tbody); rules.splice(i, 1); draw(); preview.later(); })));
  };
  const markRules = (byTarget, fields) => {
    for (const td of tbody.querySelectorAll('.rule-error')) mount(td);
    for (const tr of tbody.querySelectorAll('tr[data-rule]')) {
      const i = tr.dataset.rule;
      const target = tr.querySelector(`#rule-${i}-target`).value.trim();
      const msgs = [...byTarget.filter((e) => e.target === target).map((e) => e.message),
        ...Object.entries(fields || {}).filter(([k]) => k.startsWith(`rules[${i}]`)).flatMap(([, m]) => [].concat(m))];
      mount(tr.querySelector('.rule-error'), msgs.join('; '));
    }
  };
  const jsonTab = h('div', { id: 'mapping-json-tab', hidden: true }, row({ label: 'The mapping as JSON', control: json }));
  const tableTab = h('div', { id: 'mapping-table-tab' },
    h('div', { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': 'Rules' },
      h('table', { id: 'rules-table' }, h('caption', { class: 'sr-only' }, 'Rules'),
        h('thead', null, h('tr', null, ['Source', 'Target', 'Transforms', 'Default', 'Required', '', 'Error'].map((t) => h('th', { scope: 'col' }, t)))),
        tbody)),
    h('p', { class: 'help' }, 'Transforms run left to right: trim | lowercase, or with options: to_datetime {"format": "%d/%m/%Y"}.'));
  const draft = () => {
    if (!jsonTab.hidden) {
      const parsed = JSON.parse(json.value);
      return { key: parsed.key, rules: parsed.rules, markRules: () => {} };
    }
    return { key: key.value.trim(), rules: readRules(tbody), markRules };
  };
  preview = previewPanel(ctx, draft);
  const addRule = h('button', { type: 'button', id: 'add-rule', class: 'button button-small button-secondary' }, 'Add rule');
  addRule.addEventListener('click', () => { rules = [...readRules(tbody), { source: '', target: '' }]; draw(); tbody.querySelector(`#rule-${rules.length - 1}-source`).focus(); });
  const tabs = h('div', { class: 'button-row', role: 'group', 'aria-label': 'Edit as' },
    h('button', { type: 'button', id: 'tab-table', class: 'button button-small', 'aria-pressed': 'true' }, 'Table'),
    h('button', { type: 'button', id: 'tab-json', class: 'button button-small button-secondary', 'aria-pressed': 'false' }, 'JSON'));
  tabs.addEventListener('click', (ev) => {
    const toJson = ev.target.id === 'tab-json';
    if (!ev.target.id || toJson === !jsonTab.hidden) return;
    try {
      if (toJson) json.value = JSON.stringify({ name: name.value.trim(), entity_type: entity.value.trim(), key: key.value.trim(), rules: readRules(tbody) }, null, 2);
      else {
        const m = JSON.parse(json.value);
        [name.value, entity.value, key.value, rules] = [m.name ?? '', m.entity_type ?? '', m.key ?? '', m.rules || []];
        draw();
      }
    } catch (e) {
      mount(summary, e.message);
      return;
    }
    jsonTab.hidden = !toJson;
    tableTab.hidden = toJson;
    for (const b of tabs.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.id === ev.target.id));
  });
  json.addEventListener('input', () => preview.later());
  key.addEventListener('input', () => preview.later());
  const form = h('form', { id: 'mapping-form', class: 'mapping-form', novalidate: true }, summary,
    row({ label: 'Name', control: name, name: 'name' }), row({ label: 'Record type', control: entity, name: 'entity_type' }),
    row({ label: 'Key (the target that identifies a record)', control: key, name: 'key' }),
    tabs, tableTab, jsonTab,
    h('div', { class: 'button-row' }, addRule, ctx.isAdmin ? h('button', { type: 'submit', id: 'mapping-save', class: 'button' }, existing ? 'Save mapping' : 'Create mapping') : null));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const body = jsonTab.hidden ? { name: name.value.trim(), entity_type: entity.value.trim(), key: key.value.trim(), rules: readRules(tbody) } : JSON.parse(json.value);
      const res = existing ? await request('PATCH', `${BASE}/field-mappings/${encodeURIComponent(existing.id)}`, { body }) : await post(`${BASE}/field-mappings`, body);
      ctx.go(`#/field-mappings/${encodeURIComponent(res.data.id)}`, existing ? 'Mapping saved.' : 'Mapping created.');
      if (existing) ctx.reload();
    } catch (err) {
      if (err instanceof SyntaxError || !err.status) mount(summary, err.message);
      else {
        showProblem(form, err);
        markRules([], err.problem?.errors);
      }
    }
  });
  draw();
  mount(ctx.main, h('section', { class: 'page' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/field-mappings' }, '← Mappings')),
    h('h1', null, existing ? existing.name : 'New mapping'),
    h('div', { class: 'mapping-editor' }, section('Rules', form), preview.panel),
    existing && ctx.isAdmin ? deleteSection(ctx, existing) : null));
  preview.later();
}

/** Delete, asked first; a mapping a configuration uses is refused (409), in words. */
function deleteSection(ctx, m) {
  const why = h('p', { id: 'mapping-delete-error', class: 'form-error', role: 'alert' });
  const remove = confirmButton({
    id: 'mapping-delete',
    label: 'Delete mapping',
    question: 'Events and runs that used it keep their records.',
    yes: `Delete ${m.name}`,
    act: async () => {
      try {
        await request('DELETE', `${BASE}/field-mappings/${encodeURIComponent(m.id)}`);
        ctx.go('#/field-mappings', `Mapping “${m.name}” deleted.`);
      } catch (err) {
        mount(why, err.status === 409
          ? 'A sync configuration uses this mapping: point it at another mapping, or delete it, first.'
          : err.message);
      }
    },
  });
  return section('Delete', remove, why);
}

// ------------------------------------------------------------------ pages

export async function renderList(ctx) {
  const box = h('div', null, loading());
  mount(ctx.main, h('section', { class: 'page' },
    h('header', { class: 'page-head' }, h('h1', null, 'Field mappings'),
      ctx.isAdmin ? h('div', { class: 'actions' }, h('a', { id: 'new-mapping', class: 'button', href: '#/field-mappings/new' }, 'New mapping')) : null),
    box));
  try {
    const { data } = await getList(`${BASE}/field-mappings`, { per_page: 100 });
    if (!ctx.alive()) return;
    mount(box, dataTable({
      id: 'mappings-table', caption: 'Field mappings',
      columns: [
        { label: 'Name', cell: (m) => h('a', { href: `#/field-mappings/${encodeURIComponent(m.id)}` }, m.name) },
        { label: 'Record type', cell: (m) => h('code', null, m.entity_type) },
        { label: 'Key', cell: (m) => h('code', null, m.key) },
        { label: 'Rules', class: 'num', cell: (m) => (m.rules || []).length },
        { label: 'Updated', cell: (m) => time(m.updated_at) },
      ],
      rows: data, rowAttrs: (m) => ({ 'data-mapping-id': m.id }),
      emptyText: ctx.isAdmin ? 'No mappings yet: create the first with “New mapping”.' : 'No mappings yet. An admin adds them.',
    }));
  } catch (err) {
    showError(err, 'Could not load mappings');
    mount(box, empty('The mappings could not be loaded.'));
  }
}

export async function renderEditor(ctx) {
  const [id] = ctx.params;
  if (id === 'new') {
    if (!ctx.isAdmin) return mount(ctx.main, empty('Only admins create mappings.'));
    return editor(ctx, null);
  }
  mount(ctx.main, loading());
  try {
    const res = await get(`${BASE}/field-mappings/${encodeURIComponent(id)}`);
    if (ctx.alive()) await editor(ctx, res.data);
  } catch (err) {
    if (!ctx.alive()) return;
    showError(err, 'Could not load the mapping');
    mount(ctx.main, empty(err.status === 404 ? 'This mapping does not exist (or was deleted).' : 'The mapping could not be loaded.'));
  }
}
