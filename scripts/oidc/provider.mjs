// A local OpenID Connect provider (oidc-provider) for the web console's tests, started by
// scripts/services.d/oidc.sh. Plain http on 127.0.0.1, issuer http://127.0.0.1:<port>.
//
//   node scripts/oidc/provider.mjs [port]      (or OIDC_PORT=…; default 9660)
//
// One confidential client, "warden-console" (authorization code, PKCE S256 required,
// client_secret_basic; oidc-provider also takes the same secret as client_secret_post). Its redirect URIs are the ones in OIDC_REDIRECT_URIS (comma
// separated) plus, because the tests start Warden on random ports, any
// http://127.0.0.1:<port>/ui/login/oidc/callback or http://localhost:<port>/ui/login/oidc/callback.
//
// Signing in uses oidc-provider's built-in development interactions; any login and any
// password are accepted, and the login becomes the account id (and the ID token's `sub`).
// The steps a test repeats, with a cookie store, one request at a time (Location headers
// are sometimes relative, resolve them against the request URL):
//
//   1. GET  /auth?client_id=warden-console&response_type=code&redirect_uri=<callback>
//           &scope=openid%20email&state=…&nonce=…&code_challenge=…&code_challenge_method=S256
//        -> 303, Location: /interaction/<uid>  (sets oidc_interaction, oidc_interaction_resume)
//   2. GET  /interaction/<uid>
//        -> 200 HTML, <h1>Sign-in</h1> and <form action="http://127.0.0.1:<port>/interaction/<uid>"
//           method="post"> with <input type="hidden" name="prompt" value="login">,
//           <input type="text" name="login">, <input type="password" name="password"> and
//           <button type="submit" class="login login-submit">Sign-in</button>
//   3. POST /interaction/<uid>  (form-urlencoded) prompt=login&login=<account>&password=<anything>
//        -> 303 to /auth/<uid>; GET that -> 303 to /interaction/<uid2> (a new uid; sets oidc_session)
//   4. GET  /interaction/<uid2>
//        -> 200 HTML, <h1>Authorize</h1> and <form action="…/interaction/<uid2>" method="post">
//           with <input type="hidden" name="prompt" value="consent"> and
//           <button autofocus type="submit" class="login login-submit">Continue</button>
//   5. POST /interaction/<uid2>  prompt=consent
//        -> 303 to /auth/<uid2>; GET that -> 303 to <callback>?code=…&state=…&iss=<issuer>
//   6. POST /token, HTTP Basic warden-console:<client secret>, form-urlencoded
//           grant_type=authorization_code&code=…&redirect_uri=<callback>&code_verifier=…
//        -> 200 JSON: access_token, expires_in, id_token (RS256, kid warden-test), scope, token_type
//
// A browser test types into input[name=login] and input[name=password], clicks
// button[type=submit] ("Sign-in"), then clicks button[type=submit] ("Continue"). Both pages
// also have an <a>[ Cancel ]</a> link (/interaction/<uid>/abort) that ends at the callback
// with error=access_denied. A browser still holding the oidc_session cookie from an earlier
// sign-in skips both pages; a fresh cookie store always sees both. A redirect_uri that is not
// allowed gets a 400 HTML page (error: invalid_redirect_uri), not a redirect; a missing or
// non-S256 code_challenge ends at the callback with error=invalid_request.

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';

const port = Number.parseInt(process.argv[2] ?? process.env.OIDC_PORT ?? '9660', 10);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`invalid port: ${process.argv[2] ?? process.env.OIDC_PORT}`);
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const listedRedirectUris = (process.env.OIDC_REDIRECT_URIS ?? 'http://127.0.0.1:8080/ui/login/oidc/callback')
  .split(',')
  .map((uri) => uri.trim())
  .filter(Boolean);

// Any port on the loopback host, this exact path, nothing else (no query, no fragment).
const loopbackCallback = /^http:\/\/(?:127\.0\.0\.1|localhost):\d{1,5}\/ui\/login\/oidc\/callback$/;

// A fresh RS256 signing key on every start (tokens don't outlive the process anyway).
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'warden-test', alg: 'RS256', use: 'sig' };

const configuration = {
  clients: [
    {
      client_id: 'warden-console',
      // A test-only secret: this provider runs only for the test suite, on loopback.
      client_secret: 'warden-console-test-secret',
      redirect_uris: listedRedirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    // Warden runs on the same host (another port), and cookies don't tell ports apart:
    // names of the provider's own keep them from meeting the console's.
    names: {
      session: 'oidc_session',
      interaction: 'oidc_interaction',
      resume: 'oidc_interaction_resume',
    },
  },
  scopes: ['openid', 'email', 'profile'],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // Put the claims of the granted scopes into the ID token, not only into /me.
  conformIdTokenClaims: false,
  // PKCE (S256, the only method oidc-provider accepts) for every client, this confidential one included.
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
  },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: id.includes('@') ? id : `${id}@example.com`,
          email_verified: true,
          name: id,
        };
      },
    };
  },
};

const provider = new Provider(issuer, configuration);
// Plain http on loopback: no reverse proxy, so X-Forwarded-* headers are not trusted and
// cookies are not marked Secure (oidc-provider marks them only on https requests).
provider.proxy = false;

// oidc-provider matches redirect URIs exactly (a loopback port is only ignored for native
// clients); this client also takes the console's callback on any loopback port.
const exactRedirectUriAllowed = provider.Client.prototype.redirectUriAllowed;
provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(uri) {
  if (this.clientId === 'warden-console' && typeof uri === 'string' && loopbackCallback.test(uri)) {
    const p = Number(new URL(uri).port);
    if (p > 0 && p <= 65535) return true;
  }
  return exactRedirectUriAllowed.call(this, uri);
};

provider.on('server_error', (ctx, err) => {
  console.error('server_error', ctx.method, ctx.path, err);
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
server.on('error', (err) => {
  console.error(`oidc-provider could not listen on ${issuer}: ${err.message}`);
  process.exit(1);
});

function shutdown(signal) {
  console.log(`oidc-provider stopping (${signal})`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
