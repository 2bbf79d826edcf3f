// The `oidc` config section (file: enterprise.auth.oidc.*; env: LOKI_OIDC_*).
// No transforms: parsing an already-parsed section yields the same value, so
// reload() can re-validate whatever the gateway hands it.
import { accessSync, constants, readFileSync } from 'node:fs';
import { z } from 'zod';
import type { EnvBinding } from '../../../../common/src/config.js';
import { LokiError } from '../../../../common/src/errors.js';
import { ROLES } from '../../../../common/src/scopes.js';

/** Asymmetric signature algorithms only: `none` and HS* (which would let anyone holding the public key mint tokens) cannot be configured. */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
export const DEFAULT_OIDC_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;

const roleName = z.enum(Object.keys(ROLES) as [keyof typeof ROLES, ...(keyof typeof ROLES)[]]);

/** True for http(s) URLs on a loopback host, where plain http is acceptable (development, tests). */
export function isLoopbackUrl(u: URL): boolean {
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** https anywhere; http only on loopback. Tokens and codes must never cross a network in clear text. */
export function isAcceptableEndpoint(value: string): boolean {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return false;
  }
  if (u.username || u.password) return false;
  return u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackUrl(u));
}

const endpoint = z
  .string()
  .refine(isAcceptableEndpoint, { message: 'must be an https:// URL (http:// only on a loopback host)' });

export const oidcConfigSchema = z
  .object({
    /** OIDC is off when no issuer is set. */
    issuer: endpoint.optional(),
    client_id: z.string().min(1).max(512).optional(),
    /** Confidential clients only; public clients rely on PKCE alone. */
    client_secret: z.string().min(1).optional(),
    client_secret_file: z.string().min(1).optional(),
    /** Expected `aud` of bearer JWTs; defaults to client_id (ID tokens issued to Loki). */
    audience: z.string().min(1).max(512).optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'not a valid OAuth scope')).default(['openid', 'email', 'profile']),
    /** Defaults to <public base URL>/auth/oidc/callback. */
    redirect_uri: endpoint.optional(),
    /** Where the provider sends the browser after RP-initiated logout; defaults to <public base URL>/. */
    post_logout_redirect_uri: endpoint.optional(),
    /** Role for users whose claims map to no role. `none` rejects them. Least privilege: viewer. */
    // One enum (not a union) so a wrong value is reported with the list of valid ones.
    default_role: z.enum([...roleName.options, 'none']).default('viewer'),
    /** Claims whose values are looked up in role_map; dotted paths reach nested claims (realm_access.roles). */
    role_claims: z.array(z.string().min(1).max(200)).default(['roles', 'groups']),
    /** Claim value → Loki role, e.g. { "loki-admins": "admin" }. */
    role_map: z.record(z.string(), roleName).default({}),
    algorithms: z.array(z.enum(OIDC_ALGORITHMS)).min(1).default([...DEFAULT_OIDC_ALGORITHMS]),
    clock_tolerance_seconds: z.number().int().min(0).max(300).default(30),
    /** Browser sessions end at the ID token's exp or after this long, whichever is first. */
    session_max_age_seconds: z.number().int().min(60).max(7 * 24 * 3600).default(8 * 3600),
    /** Key material for state/session cookies. Set it when several gateways share users; otherwise a random per-process key is used. */
    cookie_secret: z.string().min(32, 'must be at least 32 characters').optional(),
    jwks_cooldown_seconds: z.number().min(0).max(3600).default(30),
    jwks_cache_max_age_seconds: z.number().min(1).max(7 * 24 * 3600).default(600),
    discovery_retry_max_seconds: z.number().min(1).max(3600).default(300),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.issuer === undefined) return;
    if (!cfg.client_id) ctx.addIssue({ code: 'custom', path: ['client_id'], message: 'required when oidc.issuer is set' });
    if (cfg.client_secret && cfg.client_secret_file) {
      ctx.addIssue({ code: 'custom', path: ['client_secret_file'], message: 'set client_secret or client_secret_file, not both' });
    }
    if (!cfg.scopes.includes('openid')) ctx.addIssue({ code: 'custom', path: ['scopes'], message: 'must include openid' });
    // Checked here too, so startup and SIGHUP validation report it with every other problem before anything is swapped.
    if (cfg.client_secret_file) {
      try {
        accessSync(cfg.client_secret_file, constants.R_OK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? 'error';
        ctx.addIssue({ code: 'custom', path: ['client_secret_file'], message: `cannot read ${cfg.client_secret_file} (${code})` });
      }
    }
  });

export type OidcConfig = z.infer<typeof oidcConfigSchema>;

export const oidcEnvBindings: EnvBinding[] = [
  { env: 'LOKI_OIDC_ISSUER', path: 'oidc.issuer', type: 'string' },
  { env: 'LOKI_OIDC_CLIENT_ID', path: 'oidc.client_id', type: 'string' },
  { env: 'LOKI_OIDC_CLIENT_SECRET', path: 'oidc.client_secret', type: 'string' },
  { env: 'LOKI_OIDC_CLIENT_SECRET_FILE', path: 'oidc.client_secret_file', type: 'string' },
  { env: 'LOKI_OIDC_AUDIENCE', path: 'oidc.audience', type: 'string' },
  { env: 'LOKI_OIDC_SCOPES', path: 'oidc.scopes', type: 'list' },
  { env: 'LOKI_OIDC_DEFAULT_ROLE', path: 'oidc.default_role', type: 'string' },
  { env: 'LOKI_OIDC_REDIRECT_URI', path: 'oidc.redirect_uri', type: 'string' },
];

/** Validates a section handed over by the gateway (startup or SIGHUP); lists every problem. */
export function parseOidcConfig(raw: unknown): OidcConfig {
  const result = oidcConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `oidc.${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
  throw new LokiError('invalid_config', `invalid OIDC configuration:\n  ${problems.join('\n  ')}`);
}

/** The client secret from config or its file; read at (re)load so an unreadable file refuses the config. */
export function resolveClientSecret(cfg: OidcConfig): string | undefined {
  if (cfg.client_secret) return cfg.client_secret;
  if (!cfg.client_secret_file) return undefined;
  let text: string;
  try {
    text = readFileSync(cfg.client_secret_file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new LokiError('invalid_config', `oidc.client_secret_file: cannot read ${cfg.client_secret_file} (${code})`);
  }
  const secret = text.trim();
  if (!secret) throw new LokiError('invalid_config', `oidc.client_secret_file: ${cfg.client_secret_file} is empty`);
  return secret;
}
