// The `auth` section of lokid's config: what the daemon needs to verify the
// credentials the gateway forwards. OIDC mirrors the gateway's
// enterprise.auth.oidc keys and reads the same LOKI_OIDC_* variables, so one
// environment configures both processes the same way.
import { z } from 'zod';
import type { DeepReadonly, EnvBinding } from '../../../common/src/index.js';

/** Asymmetric signature algorithms only: `none` and HS* (anyone holding the public key could mint tokens) cannot be configured. */
const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
const ROLE = z.enum(['admin', 'operator', 'viewer', 'auditor']);
// An enum, not a union of ROLE and 'none': a wrong value is then reported with the valid ones, not as "Invalid input".
const ROLE_OR_NONE = z.enum([...ROLE.options, 'none']);

function acceptableIssuer(value: string): boolean {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return false;
  }
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  return !u.username && !u.password && (u.protocol === 'https:' || (u.protocol === 'http:' && loopback));
}

export const oidcVerifierConfigSchema = z
  .object({
    /** OIDC bearer/cookie credentials are refused by the daemon when no issuer is set. */
    issuer: z.string().refine(acceptableIssuer, 'must be an https:// URL (http:// only on a loopback host)').optional(),
    /** ID tokens (browser sessions) are addressed to the client id. */
    client_id: z.string().min(1).max(512).optional(),
    /** Expected `aud` of bearer access tokens; defaults to client_id. */
    audience: z.string().min(1).max(512).optional(),
    algorithms: z.array(z.enum(ALGORITHMS)).min(1).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
    clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
    default_role: ROLE_OR_NONE.default('viewer'),
    role_claims: z.array(z.string().min(1).max(200)).default(['roles', 'groups']),
    role_map: z.record(z.string(), ROLE).default({}),
    jwks_cooldown_seconds: z.number().min(0).max(3600).default(30),
    jwks_cache_max_age_seconds: z.number().min(1).max(7 * 24 * 3600).default(600),
    /** A verified JWT is remembered (by hash) this long, never past its exp. */
    verified_cache_seconds: z.number().int().min(0).max(300).default(30),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.issuer && !c.client_id && !c.audience) {
      ctx.addIssue({ code: 'custom', path: ['client_id'], message: 'client_id or audience is required when auth.oidc.issuer is set' });
    }
  });

export const authConfigSchema = z
  .object({
    oidc: oidcVerifierConfigSchema.prefault({}),
    /**
     * What a gateway call carrying no credential may do as an end user. `none`
     * (default): nothing. Set it only to serve a gateway that runs with
     * LOKI_ENTERPRISE_AUTH=false on loopback: anything that can reach the gateway
     * socket then acts with this role.
     */
    gateway_anonymous_role: ROLE_OR_NONE.default('none'),
    /**
     * Streams (events, approvals, audit tail, logs, exec) one end user may hold open
     * through the gateway at once; more are refused with resource_exhausted. Keep it
     * above the gateway's rate_limit.max_streams_per_subject (default 16).
     */
    gateway_max_streams_per_subject: z.number().int().min(1).max(100_000).default(64),
    /**
     * Unary calls one end user may have in progress through the gateway at once;
     * more are refused with resource_exhausted. Keep it above the gateway's
     * rate_limit.concurrency (default 8): every call of a request counts.
     */
    gateway_max_calls_per_subject: z.number().int().min(1).max(100_000).default(64),
  })
  .strict();

export type AuthConfig = DeepReadonly<z.infer<typeof authConfigSchema>>;
export type OidcVerifierConfig = AuthConfig['oidc'];

export const authEnvBindings: readonly EnvBinding[] = [
  { env: 'LOKI_OIDC_ISSUER', path: 'auth.oidc.issuer', type: 'string' },
  { env: 'LOKI_OIDC_CLIENT_ID', path: 'auth.oidc.client_id', type: 'string' },
  { env: 'LOKI_OIDC_AUDIENCE', path: 'auth.oidc.audience', type: 'string' },
  { env: 'LOKI_OIDC_DEFAULT_ROLE', path: 'auth.oidc.default_role', type: 'string' },
  { env: 'LOKI_GATEWAY_ANONYMOUS_ROLE', path: 'auth.gateway_anonymous_role', type: 'string' },
  { env: 'LOKI_GATEWAY_MAX_STREAMS_PER_SUBJECT', path: 'auth.gateway_max_streams_per_subject', type: 'int' },
  { env: 'LOKI_GATEWAY_MAX_CALLS_PER_SUBJECT', path: 'auth.gateway_max_calls_per_subject', type: 'int' },
];
