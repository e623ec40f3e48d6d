// A real OpenID Connect provider for Weir's SSO tests: panva's
// oidc-provider, with a login page of its own (no consent screen: the one
// client is first-party). Started by the test suite (tests/support/oidc.rs):
//
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI   the one registered client
//   ACCOUNTS   JSON {"<login>": {"password", "email", "email_verified"?, "name", "groups", "hd"?}}
//              (`email_verified: null` leaves the claim out, as Microsoft Entra ID does)
//
// It listens on an ephemeral loopback port and prints `LISTENING <port>`.
//
// `POST /__test/next-id-token` with a JSON object of claims makes the next
// token response carry an ID token with those claims overridden (re-signed
// with the provider's own key, so the signature stays valid): how the tests
// get a wrong `aud`, an expired token or a bad nonce past a correct signature.

import http from 'node:http';
import { generateKeyPair, exportJWK, importJWK, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import Provider from 'oidc-provider';

const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'weir-test-key', alg: 'RS256', use: 'sig' };
const signingKey = await importJWK(jwk, 'RS256');
let nextIdTokenClaims = null;

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['weir-test-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'hd'], groups: ['groups'] },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // Claims of the granted scopes go in the ID token itself.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: false } },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    const account = accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        const claims = { sub: id, email: account.email, name: account.name, groups: account.groups || [] };
        if (account.email_verified !== null) claims.email_verified = account.email_verified ?? true;
        if (account.hd) claims.hd = account.hd;
        return claims;
      },
    };
  },
  // First-party client: every requested scope is granted without a consent page.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile groups');
    await grant.save();
    return grant;
  },
});

// The override of the next ID token, applied after the token endpoint answered.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === '/token' && nextIdTokenClaims && ctx.body && ctx.body.id_token) {
    const overrides = nextIdTokenClaims;
    nextIdTokenClaims = null;
    const claims = { ...decodeJwt(ctx.body.id_token), ...overrides };
    const { kid, alg } = decodeProtectedHeader(ctx.body.id_token);
    ctx.body = { ...ctx.body, id_token: await new SignJWT(claims).setProtectedHeader({ kid, alg, typ: 'JWT' }).sign(signingKey) };
  }
});

function page(res, status, html) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><head><title>Test identity provider</title></head><body>${html}</body></html>`);
}

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function interaction(req, res, uid) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return page(res, 400, 'wrong interaction');
  if (req.method === 'GET') {
    return page(res, 200, `<h1>Sign in to the test provider</h1>
      <form method="post" action="/interaction/${escape(uid)}">
        <label for="login">Login</label> <input id="login" name="login" autocomplete="username">
        <label for="password">Password</label> <input id="password" name="password" type="password">
        <button id="idp-submit" type="submit">Sign in</button>
      </form>`);
  }
  const form = new URLSearchParams(await body(req));
  const account = accounts[form.get('login')];
  if (!account || account.password !== form.get('password')) {
    return page(res, 401, '<p id="idp-error">Wrong login or password.</p>');
  }
  return provider.interactionFinished(req, res, { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
server.on('request', async (req, res) => {
  try {
    const url = new URL(req.url, issuer);
    const uid = url.pathname.match(/^\/interaction\/([^/]+)$/);
    if (uid) return await interaction(req, res, uid[1]);
    if (url.pathname === '/__test/next-id-token' && req.method === 'POST') {
      nextIdTokenClaims = JSON.parse(await body(req));
      res.writeHead(204);
      return res.end();
    }
    return callback(req, res);
  } catch (err) {
    page(res, 500, escape(err.message));
  }
});

process.stdout.write(`LISTENING ${port}\n`);
