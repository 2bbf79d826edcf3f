// A real OpenID provider (oidc-provider v9) on loopback for the OIDC tests.
// One HTTP server stays up on a fixed port while the Provider behind it can be
// swapped, which is how the tests rotate signing keys.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';
import Provider from 'oidc-provider';

export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: CryptoKey;
  publicJwk: JWK;
  privateJwk: JWK;
}

export async function makeKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, privateJwk };
}

export const CLIENT_ID = 'loki-gateway';
export const CLIENT_SECRET = 'a-test-client-secret-that-is-long-enough';
export const API_RESOURCE = 'https://loki.test/api';
export const API_AUDIENCE = 'loki-api';

/** Group memberships the provider's accounts report (the `groups` claim). */
const GROUPS: Record<string, string[]> = {
  alice: ['engineering', 'loki-operators'],
  root: ['loki-admins'],
};

export interface TestProvider {
  issuer: string;
  port: number;
  /** Requests per path, e.g. jwksRequests() counts fetches of the key set. */
  jwksRequests(): number;
  /** Replaces the signing keys (the provider is rebuilt behind the same port). */
  rotate(keys: SigningKey[]): void;
  close(): Promise<void>;
}

function buildProvider(issuer: string, keys: SigningKey[], gatewayBase: string, sid = false, endSession = true, idTokenTtl = 3600): InstanceType<typeof Provider> {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        // With back-channel logout registered the provider puts its session id (`sid`) in ID tokens, as
        // Keycloak, Okta and Entra ID do; the gateway has no back-channel endpoint (the POST gets a 404).
        ...(sid ? { backchannel_logout_uri: `${gatewayBase}/auth/oidc/backchannel-logout`, backchannel_logout_session_required: true } : {}),
        redirect_uris: [`${gatewayBase}/auth/oidc/callback`],
        post_logout_redirect_uris: [`${gatewayBase}/`],
        grant_types: ['authorization_code', 'client_credentials'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
        id_token_signed_response_alg: keys[0]!.alg,
      },
    ],
    jwks: { keys: keys.map((k) => k.privateJwk) },
    async findAccount(_ctx: unknown, id: string) {
      return {
        accountId: id,
        async claims() {
          return { sub: id, email: `${id}@example.test`, name: id, groups: GROUPS[id] ?? [] };
        },
      };
    },
    claims: { openid: ['sub'], email: ['email'], profile: ['name', 'groups'] },
    // Put scope claims (groups) into the ID token itself, as most enterprise IdPs can be configured to.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: { AccessToken: 600, AuthorizationCode: 60, ClientCredentials: 600, Grant: 3600, IdToken: idTokenTtl, Interaction: 600, Session: 3600 },
    cookies: { keys: ['oidc-provider-test-cookie-key'] },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      // Off: no end_session_endpoint, like an IdP without RP-initiated logout (the gateway then only ends its own session).
      rpInitiatedLogout: { enabled: endSession },
      backchannelLogout: { enabled: sid },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => API_RESOURCE,
        getResourceServerInfo: () => ({ scope: 'api', audience: API_AUDIENCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
      },
    },
  });
  return provider;
}

/** Starts the provider; `port` 0 picks a free one, a fixed port lets a test bring an "unreachable" issuer up. */
/** `idTokenTtlSeconds`: lifetime of the ID tokens it issues (default 3600); a browser session made from one ends with it. */
export async function startProvider(opts: { keys: SigningKey[]; gatewayBase: string; port?: number; sid?: boolean; endSession?: boolean; idTokenTtlSeconds?: number }): Promise<TestProvider> {
  let handler: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;
  let jwks = 0;
  const server: Server = createServer((req, res) => {
    if (req.url?.startsWith('/jwks')) jwks += 1;
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const install = (keys: SigningKey[]): void => {
    handler = buildProvider(issuer, keys, opts.gatewayBase, opts.sid ?? false, opts.endSession ?? true, opts.idTokenTtlSeconds).callback();
  };
  install(opts.keys);
  return {
    issuer,
    port,
    jwksRequests: () => jwks,
    rotate: install,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port that is free right now (kept here too for the OIDC tests that import it from the provider). */
export { freePort } from '../../helpers/ports.js';
