// Boot, session, header and hash router of the Weir web UI.
//
// Routes: #/overview (default), #/connectors[/<id>], #/connectors/new, #/connectors/<id>/edit,
// #/sync-configurations/new?connector_id=, #/sync-configurations/<id>/edit, #/field-mappings[/new|/<id>], #/events[/<id>],
// #/syncs[/<id>], #/audit, #/users, #/profile; before sign-in #/invite/<token>, #/signin?tenant=<slug> (the SSO
// button), #/signin/mfa/<challenge> and #/signin/sso-error/<code> (back from SSO). Filters live in the hash query
// (#/events?status=failed) so a reload keeps them.

import { get, del, onUnauthorized, setCsrfToken, url } from './api.js';
import { h, mount, setTimesInUtc, timesInUtc } from './dom.js';
import { clearBanners, flash, showError } from './widgets.js';
import { startLive, stopLive, subscribe } from './live.js';
import * as signin from './pages/signin.js';
import * as overview from './pages/overview.js';
import * as connectors from './pages/connectors.js';
import * as connectorForm from './pages/connector_form.js';
import * as syncForm from './pages/sync_form.js';
import * as mappings from './pages/mappings.js';
import * as events from './pages/events.js';
import * as syncs from './pages/syncs.js';
import * as audit from './pages/audit.js';
import * as profile from './pages/profile.js';
import * as users from './pages/users.js';

const ROUTES = [
  { nav: 'overview', title: 'Overview', re: /^\/overview$/, render: overview.render },
  { nav: 'connectors', title: 'Connectors', re: /^\/connectors$/, render: connectors.renderList },
  { nav: 'connectors', title: 'New connector', re: /^\/connectors\/new$/, render: connectorForm.renderNew },
  { nav: 'connectors', title: 'Edit connector', re: /^\/connectors\/([^/]+)\/edit$/, render: connectorForm.renderEdit },
  { nav: 'connectors', title: 'Connector', re: /^\/connectors\/([^/]+)$/, render: connectors.renderDetail },
  { nav: 'connectors', title: 'New sync configuration', re: /^\/sync-configurations\/new$/, render: syncForm.renderNew },
  { nav: 'connectors', title: 'Edit sync configuration', re: /^\/sync-configurations\/([^/]+)\/edit$/, render: syncForm.renderEdit },
  { nav: 'mappings', title: 'Field mappings', re: /^\/field-mappings$/, render: mappings.renderList },
  { nav: 'mappings', title: 'Field mapping', re: /^\/field-mappings\/([^/]+)$/, render: mappings.renderEditor },
  { nav: 'events', title: 'Events', re: /^\/events$/, render: events.renderList },
  { nav: 'events', title: 'Event', re: /^\/events\/([^/]+)$/, render: events.renderDetail },
  { nav: 'syncs', title: 'Sync histories', re: /^\/syncs$/, render: syncs.renderList },
  { nav: 'syncs', title: 'Sync run', re: /^\/syncs\/([^/]+)$/, render: syncs.renderDetail },
  { nav: 'audit', title: 'Audit log', re: /^\/audit$/, render: audit.render },
  { nav: 'profile', title: 'Your profile', re: /^\/profile$/, render: profile.render },
  { nav: 'users', title: 'Users', re: /^\/users$/, render: users.render },
];

const main = document.getElementById('main');
const topbar = document.getElementById('topbar');

let session = null; // GET /api/v1/session data while signed in
let current = null; // context of the page on screen
let pendingFlash = null; // what ctx.go asked the next page to say

/** '#/events/abc?status=failed' → {path: '/events/abc', query: URLSearchParams} */
function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const i = raw.indexOf('?');
  const path = (i < 0 ? raw : raw.slice(0, i)) || '/';
  return { path, query: new URLSearchParams(i < 0 ? '' : raw.slice(i + 1)) };
}

function teardown() {
  if (!current) return;
  const old = current;
  current = null;
  for (const fn of old.cleanups) fn();
}

/** Renders the page for the current hash. */
function route({ focus = true, keepBanners = false } = {}) {
  teardown();
  if (!keepBanners) clearBanners();
  if (pendingFlash) {
    flash(...pendingFlash);
    pendingFlash = null;
  }
  if (!session) return showSignin();

  const { path, query } = parseHash();
  if (path === '/' || path === '/signin') {
    history.replaceState(null, '', '#/overview');
    return route({ focus });
  }
  // An admin who must enrol a second factor can reach only the profile.
  if (session.must_enrol_mfa && path !== '/profile') {
    history.replaceState(null, '', '#/profile');
    return route({ focus });
  }

  let match = null;
  const found = ROUTES.find((r) => (match = path.match(r.re)));
  for (const a of document.querySelectorAll('#nav a')) {
    if (found && a.dataset.nav === found.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }

  const ctx = {
    main,
    session,
    query,
    params: match ? match.slice(1).map(decodeURIComponent) : [],
    isAdmin: session.role === 'admin',
    canOperate: session.role === 'admin' || session.role === 'operator',
    cleanups: [],
    alive: () => current === ctx,
    onCleanup: (fn) => ctx.cleanups.push(fn),
    /** Subscribes to live events for as long as the page is shown. */
    live: (names, fn) => ctx.cleanups.push(subscribe(names, fn)),
    /** Rewrites the hash query without re-rendering (filters, paging). */
    setQuery: (values) => {
      ctx.query = new URLSearchParams(url('', values).slice(1));
      history.replaceState(null, '', `#${url(path, values)}`);
    },
    /** Re-renders the page, keeping the success/error messages. */
    reload: () => route({ focus: false, keepBanners: true }),
    /** Goes to another page (`#/…`) and shows `message` there once it is drawn. */
    go: (hash, ...message) => {
      pendingFlash = message;
      location.hash = hash;
    },
    /** After enrolling a second factor: the session is no longer limited. */
    onEnrolled: async () => {
      try {
        const res = await get('/api/v1/session');
        session = res.data;
      } catch {
        /* a 401 signs out */
      }
    },
  };
  current = ctx;
  main.replaceChildren();

  if (!found) {
    document.title = 'Not found · Weir';
    mount(main, h('section', { class: 'page' }, h('h1', null, 'Page not found'),
      h('p', null, 'There is nothing at this address. ', h('a', { href: '#/overview' }, 'Go to the overview'), '.')));
  } else {
    document.title = `${found.title} · Weir`;
    found.render(ctx);
  }
  if (focus) {
    main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

function showSignin(message, { email, notice } = {}) {
  topbar.hidden = true;
  const invite = parseHash().path.match(/^\/invite\/([^/]+)$/);
  if (invite && !message) {
    document.title = 'Accept invitation · Weir';
    signin.renderInvite(main, {
      token: decodeURIComponent(invite[1]),
      onAccepted: (user) => {
        history.replaceState(null, '', '#/signin');
        showSignin(undefined, { email: user.email, notice: 'Your password is set. Sign in with it.' });
      },
    });
    return;
  }
  const { path, query } = parseHash();
  // Back from the identity provider: the TOTP step, or why it refused.
  const mfa = path.match(/^\/signin\/mfa\/([^/]+)$/);
  if (mfa && !message) {
    document.title = 'Second step · Weir';
    history.replaceState(null, '', '#/signin');
    signin.renderSecondStep(main, { mfaToken: decodeURIComponent(mfa[1]), onSignedIn: startApp });
    return;
  }
  const refused = path.match(/^\/signin\/sso-error\/([a-z-]+)$/);
  if (refused) history.replaceState(null, '', '#/signin');
  document.title = 'Sign in · Weir';
  signin.render(main, {
    message, notice, email, tenant: query.get('tenant') || '', onSignedIn: startApp,
    ssoRefused: refused ? signin.ssoRefusal(refused[1]) : '',
  });
}

/** Signed in (at boot or after the sign-in form): fill the header, go live. */
function enterApp(data) {
  session = data;
  setCsrfToken(data.csrf_token);
  mount(document.getElementById('tenant-name'), data.tenant_name || data.tenant_slug || 'Tenant');
  mount(document.getElementById('tenant-role'), data.user ? `${data.user.name} · ${data.role}` : data.role || '');
  document.getElementById('nav-audit').hidden = data.role !== 'admin';
  document.getElementById('nav-users').hidden = data.role !== 'admin';
  topbar.hidden = false;
  showZone();
  // When the browser stops retrying the stream, re-check the session: a 401 signs out.
  startLive(() => get('/api/v1/session').catch(() => {}));
}

/** The header's UTC/local switch says which is shown. */
function showZone() {
  const b = document.getElementById('time-zone');
  mount(b, timesInUtc() ? 'Times: UTC' : 'Times: local');
  b.setAttribute('aria-pressed', String(timesInUtc()));
}

document.getElementById('time-zone').addEventListener('click', () => {
  setTimesInUtc(!timesInUtc());
  showZone();
  route({ focus: false, keepBanners: true });
});

/** After the sign-in form: always land on the overview. */
function startApp(data) {
  enterApp(data);
  if (parseHash().path === '/overview') route();
  else location.hash = '#/overview';
}

function signedOut(message) {
  if (!session) return;
  session = null;
  setCsrfToken(null);
  stopLive();
  teardown();
  clearBanners();
  showSignin(message);
}

async function boot() {
  onUnauthorized(() => signedOut('Your session has ended. Sign in again.'));
  window.addEventListener('hashchange', () => route());
  // The skip link must not change the hash (that is the router's).
  document.querySelector('.skip-link').addEventListener('click', (ev) => {
    ev.preventDefault();
    main.focus();
  });

  document.getElementById('signout').addEventListener('click', async () => {
    try {
      await del('/api/v1/session', { allow401: true });
    } catch {
      /* signed out either way */
    }
    signedOut();
  });

  try {
    const res = await get('/api/v1/session', null, { allow401: true });
    enterApp(res.data);
    route({ focus: false });
  } catch (err) {
    showSignin();
    if (err.status !== 401) showError(err, 'Could not check the session');
  }
}

boot();
