// Daemon-side OIDC JWT verification: the daemon does not take the gateway's word
// for who a JWT belongs to. Discovery and the JWKS are fetched lazily and cached
// (jose's remote key set keeps keys for jwks_cache_max_age_seconds and refetches
// on an unknown kid at most once per cooldown), so a verification is a signature
// check plus a map lookup; verified tokens are also remembered by hash briefly.
import { createHash } from 'node:crypto';
import type * as JoseModule from 'jose';
import { LokiError, oidcGrant, type Logger } from '../../../common/src/index.js';
import type { OidcVerifierConfig } from './config.js';
import type { VerifiedCredential } from './verifier.js';

export const JWT_SHAPE = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;
export const MAX_JWT_LENGTH = 16 * 1024;
const DISCOVERY_TIMEOUT_MS = 5000;
const DISCOVERY_RETRY_MS = 10_000;
const MAX_CACHE = 10_000;

type Jwks = ReturnType<typeof JoseModule.createRemoteJWKSet>;

let jose: Promise<typeof JoseModule> | undefined;
/** jose loads on the first JWT to verify: a daemon without OIDC never needs it (≈ 50 modules kept resident otherwise). */
const loadJose = () => (jose ??= import('jose'));

export interface OidcVerifierOptions {
  config: OidcVerifierConfig;
  log: Logger;
  now?: () => number;
}

function describe(err: unknown, errors: typeof JoseModule.errors): string {
  if (err instanceof errors.JWTExpired) return 'OIDC token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `OIDC token has an invalid ${err.claim} claim`;
  if (err instanceof errors.JOSEAlgNotAllowed) return 'OIDC token is signed with an algorithm that is not allowed';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'OIDC token signature is invalid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'OIDC token is signed by a key the issuer does not publish';
  if (err instanceof errors.JOSEError) return 'OIDC token could not be verified';
  return 'OIDC signing keys are unavailable (identity provider unreachable from the daemon)';
}

export class OidcVerifier {
  private readonly cfg: OidcVerifierConfig;
  private readonly log: Logger;
  private readonly now: () => number;
  private jwks: Jwks | undefined;
  private discovering: Promise<Jwks> | undefined;
  private lastFailure = 0;
  private readonly cache = new Map<string, { grant: VerifiedCredential; until: number }>();

  constructor(o: OidcVerifierOptions) {
    this.cfg = o.config;
    this.log = o.log;
    this.now = o.now ?? Date.now;
  }

  get configured(): boolean {
    return Boolean(this.cfg.issuer);
  }

  private audiences(): string[] {
    return [...new Set([this.cfg.audience, this.cfg.client_id].filter((a): a is string => Boolean(a)))];
  }

  private async keys(): Promise<Jwks> {
    if (this.jwks) return this.jwks;
    if (this.now() - this.lastFailure < DISCOVERY_RETRY_MS) {
      throw new LokiError('unauthenticated', 'OIDC signing keys are unavailable (identity provider unreachable from the daemon)');
    }
    this.discovering ??= this.discover().finally(() => {
      this.discovering = undefined;
    });
    return this.discovering;
  }

  private async discover(): Promise<Jwks> {
    const issuer = this.cfg.issuer!;
    try {
      const res = await fetch(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`, {
        redirect: 'error',
        signal: AbortSignal.timeout(DISCOVERY_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const doc = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
      // Discovery §4.3: the document must name exactly this issuer.
      if (doc.issuer !== issuer) throw new Error('the discovery document names another issuer');
      if (typeof doc.jwks_uri !== 'string') throw new Error('the discovery document has no jwks_uri');
      const uri = new URL(doc.jwks_uri);
      if (uri.protocol !== 'https:' && new URL(issuer).protocol !== 'http:') throw new Error('jwks_uri is not https');
      const { createRemoteJWKSet } = await loadJose();
      this.jwks = createRemoteJWKSet(uri, {
        cacheMaxAge: this.cfg.jwks_cache_max_age_seconds * 1000,
        cooldownDuration: this.cfg.jwks_cooldown_seconds * 1000,
        timeoutDuration: DISCOVERY_TIMEOUT_MS,
      });
      return this.jwks;
    } catch (err) {
      this.lastFailure = this.now();
      this.log.warn({ issuer, err: (err as Error).message }, 'OIDC discovery failed; JWTs are refused until it succeeds');
      throw new LokiError('unauthenticated', 'OIDC signing keys are unavailable (identity provider unreachable from the daemon)');
    }
  }

  async verify(jwt: string): Promise<VerifiedCredential> {
    if (!this.configured) throw new LokiError('unauthenticated', 'OIDC tokens are not accepted: the daemon has no auth.oidc.issuer configured');
    if (jwt.length > MAX_JWT_LENGTH || !JWT_SHAPE.test(jwt)) throw new LokiError('unauthenticated', 'OIDC token is malformed');
    const key = createHash('sha256').update(jwt).digest('base64url');
    const now = this.now();
    const hit = this.cache.get(key);
    if (hit && hit.until > now) return hit.grant;
    if (hit) this.cache.delete(key);
    const jwks = await this.keys();
    const { errors, jwtVerify } = await loadJose();
    let payload;
    try {
      ({ payload } = await jwtVerify(jwt, jwks, {
        issuer: this.cfg.issuer!,
        audience: this.audiences(),
        algorithms: [...this.cfg.algorithms],
        clockTolerance: this.cfg.clock_tolerance_seconds,
        currentDate: new Date(now),
        requiredClaims: ['sub', 'exp'],
      }));
    } catch (err) {
      throw new LokiError('unauthenticated', describe(err, errors), { cause: err instanceof errors.JOSEError ? err.code : err });
    }
    let g;
    try {
      g = oidcGrant(payload, this.cfg);
    } catch (err) {
      throw new LokiError('unauthenticated', (err as Error).message);
    }
    const grant: VerifiedCredential = { subject: g.subject, scopes: g.scopes, auth: g.subject, ...(g.credentialId ? { credentialId: g.credentialId } : {}) };
    const ttl = this.cfg.verified_cache_seconds * 1000;
    if (ttl > 0) {
      if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(key, { grant, until: Math.min(now + ttl, (payload.exp ?? 0) * 1000) });
    }
    return grant;
  }
}
