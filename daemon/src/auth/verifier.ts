// Turns a credential the gateway forwarded into the identity the daemon acts on.
// The daemon never takes a forwarded subject or scope list: it looks the API
// token up itself (hash → row: expiry and revocation are read at the moment of
// the call) or verifies the OIDC JWT against the issuer's keys.
//
// Every gateway call carries the credential, so the lookup (checksum, SHA-256,
// SQLite row) ran once per API request. A verified token is now remembered for
// a moment, keyed by its SHA-256 (no plaintext is kept): a revocation through
// this daemon empties the cache at once (the store's revision changes), expiry
// is checked on every hit, and an entry lives at most `cacheMs` (default 2 s),
// which bounds how long a change made to the database behind the daemon's back
// can go unseen. Failures are never cached.
import { hash } from 'node:crypto';
import { LokiError } from '../../../common/src/index.js';
import type { TokenStore } from '../tokens/store.js';
import type { OidcVerifier } from './oidc.js';

export interface VerifiedCredential {
  /** `token:<name>` or `oidc:<sub>`. */
  subject: string;
  scopes: readonly string[];
  /** How the subject authenticated, as audited (`token:<name>`, `oidc:<sub>`). */
  auth: string;
  /** Token id or OIDC sid/jti, for audit correlation. */
  credentialId?: string;
}

export interface CredentialVerifier {
  /** Throws LokiError('unauthenticated') for anything that is not a live credential. */
  verify(credential: string): Promise<VerifiedCredential>;
  /**
   * The same check, answered synchronously when it can be (a live cache entry):
   * the gRPC wrapper then runs the handler without a promise hop per call. A
   * refusal is thrown or rejected, exactly as `verify` would.
   */
  check?(credential: string): VerifiedCredential | Promise<VerifiedCredential>;
}

const TOKEN_PREFIX = 'loki_';
const DEFAULT_CACHE_MS = 2000;
const MAX_CACHED = 10_000;

interface Cached {
  verified: VerifiedCredential;
  /** Token expiry (ms since epoch) or Infinity. */
  expiresAt: number;
  until: number;
  revision: number;
}

export interface CredentialVerifierOptions {
  tokens: Pick<TokenStore, 'verify' | 'revision'>;
  oidc?: OidcVerifier;
  /** How long a verified token is remembered; 0 = look it up on every call. */
  cacheMs?: number;
  now?: () => number;
}

export function createCredentialVerifier(deps: CredentialVerifierOptions): CredentialVerifier {
  const cacheMs = deps.cacheMs ?? DEFAULT_CACHE_MS;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, Cached>();
  let cachedRevision = deps.tokens.revision;

  /** The store's answer: the verified credential and the token's expiry, or a refusal. */
  async function lookup(credential: string): Promise<{ verified: VerifiedCredential; expiresAt: number }> {
    const r = await deps.tokens.verify(credential);
    if (!r.ok) {
      const why = r.reason === 'expired' ? 'has expired' : r.reason === 'revoked' ? 'has been revoked' : 'is not valid';
      throw new LokiError('unauthenticated', `the forwarded API token ${why}`);
    }
    // Same subject as tokens/grpc.ts tokenSubject (kept inline: no import cycle through the gRPC layer).
    const subject = `token:${r.token.name}`;
    return { verified: { subject, scopes: r.token.scopes, auth: subject, credentialId: r.token.id }, expiresAt: r.token.expiresAt ?? Infinity };
  }

  /** A cache hit is answered synchronously (no promise of its own): it is every API call's path. */
  function token(credential: string): VerifiedCredential | Promise<VerifiedCredential> {
    if (cacheMs <= 0) return lookup(credential).then((l) => l.verified);
    const revision = deps.tokens.revision;
    if (revision !== cachedRevision) {
      cache.clear();
      cachedRevision = revision;
    }
    const key = hash('sha256', credential, 'base64url');
    const t = now();
    const hit = cache.get(key);
    if (hit && hit.until > t && hit.expiresAt > t && hit.revision === revision) return hit.verified;
    if (hit) cache.delete(key);
    return remember(key, credential, t, revision);
  }

  /**
   * Looks the token up and caches the answer under the revision read BEFORE the
   * lookup: if a revocation lands while the lookup is in flight, the entry carries
   * the old revision and is never served.
   */
  async function remember(key: string, credential: string, t: number, revision: number): Promise<VerifiedCredential> {
    const { verified, expiresAt } = await lookup(credential);
    if (cache.size >= MAX_CACHED) {
      const oldest = cache.keys().next();
      if (!oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, { verified, expiresAt, until: t + cacheMs, revision });
    return verified;
  }

  function check(credential: string): VerifiedCredential | Promise<VerifiedCredential> {
    if (credential.startsWith(TOKEN_PREFIX)) return token(credential);
    if (!deps.oidc) throw new LokiError('unauthenticated', 'the forwarded credential is not a Loki API token');
    return deps.oidc.verify(credential);
  }

  return {
    check,
    async verify(credential: string): Promise<VerifiedCredential> {
      return check(credential);
    },
  };
}
