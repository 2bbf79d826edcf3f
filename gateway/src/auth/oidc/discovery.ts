// Discovery of one issuer, with retry. An unreachable IdP must never crash the
// gateway or slow API tokens down: we stay `unavailable`, reject OIDC tokens
// with a clear message, and retry in the background with bounded back-off.
import type { createRemoteJWKSet } from 'jose';
import type { Logger } from '../../../../common/src/logger.js';
import { isAcceptableEndpoint } from './config.js';

export interface ProviderMetadata {
  issuer: string;
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  end_session_endpoint?: string;
}

export type RemoteJwks = ReturnType<typeof createRemoteJWKSet>;

export interface DiscoveryOptions {
  issuer: string;
  log: Logger;
  jwksCooldownMs: number;
  jwksCacheMaxAgeMs: number;
  retryInitialMs: number;
  retryMaxMs: number;
  requestTimeoutMs: number;
}

export interface Discovered {
  metadata: ProviderMetadata;
  jwks: RemoteJwks;
}

const ENDPOINTS = ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const;

function discoveryUrl(issuer: string): string {
  // OIDC Discovery 1.0 §4: append the well-known path to the issuer, keeping any path it has.
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** Checks the document; the issuer must match exactly (Discovery §4.3), or tokens from a look-alike could be accepted. */
export function validateMetadata(doc: unknown, issuer: string): ProviderMetadata {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('discovery document is not a JSON object');
  const d = doc as Record<string, unknown>;
  if (d.issuer !== issuer) throw new Error(`discovery document names issuer ${JSON.stringify(d.issuer)}, expected ${JSON.stringify(issuer)}`);
  for (const key of ENDPOINTS) {
    const v = d[key];
    if (typeof v !== 'string' || !isAcceptableEndpoint(v)) throw new Error(`discovery document has no usable ${key}`);
  }
  const meta: ProviderMetadata = {
    issuer,
    authorization_endpoint: d.authorization_endpoint as string,
    token_endpoint: d.token_endpoint as string,
    jwks_uri: d.jwks_uri as string,
  };
  if (typeof d.end_session_endpoint === 'string' && isAcceptableEndpoint(d.end_session_endpoint)) {
    meta.end_session_endpoint = d.end_session_endpoint;
  }
  return meta;
}

/** Owns discovery for one issuer: starts immediately, retries until it succeeds or is closed. */
export class IssuerDiscovery {
  private current: Discovered | undefined;
  private lastError = 'discovery has not completed yet';
  private timer: NodeJS.Timeout | undefined;
  private readonly abort = new AbortController();
  private attempt = 0;
  private closed = false;
  /** Settles after the first attempt (success or failure); lets callers wait without polling. */
  readonly firstAttempt: Promise<void>;

  constructor(private readonly opts: DiscoveryOptions) {
    this.firstAttempt = this.run();
  }

  get discovered(): Discovered | undefined {
    return this.current;
  }

  get error(): string {
    return this.lastError;
  }

  close(): void {
    this.closed = true;
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
  }

  private async run(): Promise<void> {
    if (this.closed) return;
    try {
      this.current = await this.discover();
      this.opts.log.info({ issuer: this.opts.issuer, attempt: this.attempt + 1 }, 'OIDC provider discovered');
    } catch (err) {
      if (this.closed) return;
      this.lastError = err instanceof Error ? err.message : String(err);
      const delay = Math.min(this.opts.retryMaxMs, this.opts.retryInitialMs * 2 ** Math.min(this.attempt, 20));
      // Jitter spreads retries of many gateways restarting together after an IdP outage.
      const wait = Math.round(delay * (0.8 + Math.random() * 0.4));
      this.attempt += 1;
      this.opts.log.warn({ issuer: this.opts.issuer, err: this.lastError, retry_in_ms: wait }, 'OIDC discovery failed; OIDC logins and tokens are refused until it succeeds');
      this.timer = setTimeout(() => void this.run(), wait);
      this.timer.unref();
    }
  }

  private async discover(): Promise<Discovered> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.opts.requestTimeoutMs)]);
    let res: Response;
    try {
      res = await fetch(discoveryUrl(this.opts.issuer), { signal, redirect: 'error', headers: { accept: 'application/json' } });
    } catch (err) {
      throw new Error(`cannot reach ${discoveryUrl(this.opts.issuer)}: ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`);
    }
    if (!res.ok) throw new Error(`${discoveryUrl(this.opts.issuer)} answered HTTP ${res.status}`);
    let doc: unknown;
    try {
      doc = await res.json();
    } catch {
      throw new Error('discovery document is not valid JSON');
    }
    const metadata = validateMetadata(doc, this.opts.issuer);
    // jose is loaded on first use: a gateway without OIDC never holds it in memory.
    const { createRemoteJWKSet } = await import('jose');
    const jwks = createRemoteJWKSet(new URL(metadata.jwks_uri), {
      cooldownDuration: this.opts.jwksCooldownMs,
      cacheMaxAge: this.opts.jwksCacheMaxAgeMs,
      timeoutDuration: this.opts.requestTimeoutMs,
    });
    // Fetch the keys now so a broken jwks_uri shows up as `unavailable` instead of failing the first login.
    try {
      await jwks.reload();
    } catch (err) {
      throw new Error(`cannot load signing keys from ${metadata.jwks_uri}: ${(err as Error).message}`);
    }
    return { metadata, jwks };
  }
}
