/**
 * A real OpenID Provider on loopback (the certified `oidc-provider`), issuing real signed JWT access
 * tokens for approval tests. Each "user" is a client using the client-credentials grant with a
 * resource indicator (the audience); `extraTokenClaims` gives its token the user's `email` and
 * `groups`, and the JWT customizer (a provider hook applied before signing) makes the tokens some
 * tests need: expired, not yet valid, or with an unverified address. Everything else (discovery,
 * JWKS, `kid`, `iss`, `aud`, signature) is the provider's own.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type ClientMetadata } from 'oidc-provider';

/** The audience the gateway is configured with. */
export const APPROVAL_AUDIENCE = 'https://baton.example/approvals';
/** Another API of the same issuer. */
export const OTHER_AUDIENCE = 'https://other.example/api';

export interface TestUser {
  email: string;
  groups: string[];
}

export const USERS = {
  alice: { email: 'alice@example.com', groups: ['prod-approvers'] },
  bob: { email: 'bob@example.com', groups: ['developers'] },
  carol: { email: 'carol@example.com', groups: ['prod-approvers'] },
} as const satisfies Record<string, TestUser>;

/** Clients whose tokens are wrong in one way: their user is alice. */
export const FLAWED = {
  expired: 'expired',
  notYetValid: 'not-yet-valid',
  unverifiedEmail: 'unverified-email',
  /** Signed with HS256 (a secret the resource server shares), not the provider's asymmetric keys. */
  hmac: 'hmac-signed',
} as const;

const SECRET = 'client-secret-of-the-test-issuer';
const HMAC_SECRET = 'resource-server-shared-hmac-secret-0123456789';

/** Private signing keys: an EC and an RSA key, each with its `kid` (`ec-<generation>`, `rsa-<generation>`). */
export async function signingKeys(generation = 1): Promise<JWK[]> {
  const ec = await generateKeyPair('ES256', { extractable: true });
  const rsa = await generateKeyPair('RS256', { extractable: true });
  return [
    { ...(await exportJWK(ec.privateKey)), kid: `ec-${generation}`, alg: 'ES256', use: 'sig' },
    { ...(await exportJWK(rsa.privateKey)), kid: `rsa-${generation}`, alg: 'RS256', use: 'sig' },
  ];
}

export interface TestIssuer {
  issuer: string;
  /** A real access token for `client` (a user name or a FLAWED client) and `audience`. */
  token(client: string, options?: { audience?: string; alg?: 'ES256' | 'RS256' }): Promise<string>;
  /** How many times the JWKS was fetched. */
  jwksFetches(): number;
  stop(): Promise<void>;
}

function userOf(clientId: string): TestUser {
  return clientId in USERS ? USERS[clientId as keyof typeof USERS] : USERS.alice;
}

/**
 * Starts an issuer at `http://127.0.0.1:<port>` signing with `keys`: on a free port, or on `port` to
 * stand in for an issuer that was stopped (the same issuer with rotated keys).
 */
export async function startTestIssuer(keys: JWK[], options: { port?: number } = {}): Promise<TestIssuer> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** The signing algorithm the next token asks for (the resource server picks it per request). */
  let nextAlg: 'ES256' | 'RS256' = 'ES256';

  const clients: ClientMetadata[] = [...Object.keys(USERS), ...Object.values(FLAWED)].map((clientId) => ({
    client_id: clientId,
    client_secret: SECRET,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_post',
  }));

  const provider = new Provider(issuer, {
    clients,
    jwks: { keys },
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => APPROVAL_AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource, client) => ({
          scope: 'approve',
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: client.clientId === FLAWED.hmac ? { alg: 'HS256', key: Buffer.from(HMAC_SECRET) } : { alg: nextAlg } },
        }),
      },
    },
    extraTokenClaims: (_ctx, token) => {
      const user = userOf(token.clientId ?? '');
      return { email: user.email, email_verified: token.clientId !== FLAWED.unverifiedEmail, groups: [...user.groups] };
    },
    formats: {
      customizers: {
        jwt: (_ctx, token, jwt) => {
          const now = Math.floor(Date.now() / 1000);
          if (token.clientId === FLAWED.expired) Object.assign(jwt.payload, { iat: now - 7200, exp: now - 3600 });
          if (token.clientId === FLAWED.notYetValid) Object.assign(jwt.payload, { nbf: now + 3600 });
        },
      },
    },
  });
  // The provider warns about a plain-http issuer; loopback is the point here.
  provider.on('server_error', (_ctx, error) => console.error('test issuer:', error));

  let jwksFetches = 0;
  const handler = provider.callback();
  server.on('request', (request, response) => {
    if (request.url?.startsWith('/jwks') === true) jwksFetches += 1;
    void handler(request, response);
  });

  return {
    issuer,
    async token(client, tokenOptions = {}) {
      nextAlg = tokenOptions.alg ?? 'ES256';
      const response = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: client,
          client_secret: SECRET,
          resource: tokenOptions.audience ?? APPROVAL_AUDIENCE,
          scope: 'approve',
        }),
      });
      const body = (await response.json()) as { access_token?: string; error?: string; error_description?: string };
      if (body.access_token === undefined) throw new Error(`the test issuer refused a token: ${JSON.stringify(body)}`);
      return body.access_token;
    },
    jwksFetches: () => jwksFetches,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
