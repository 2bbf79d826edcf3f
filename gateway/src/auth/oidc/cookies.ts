// Minimal Cookie / Set-Cookie handling (no cookie plugin is installed), plus
// the encrypted payloads we keep in them. Values are compact JWEs, so they are
// already cookie-safe (base64url and dots); anything else is ignored.
import { hkdfSync, randomBytes } from 'node:crypto';
import type { JWTPayload } from 'jose';

const MAX_COOKIE_HEADER = 16 * 1024;
const COOKIE_VALUE = /^[A-Za-z0-9._-]+$/;

/** Returns the first value of `name` in a Cookie header, or undefined. */
export function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  const text = Array.isArray(header) ? header.join('; ') : header;
  if (!text || text.length > MAX_COOKIE_HEADER) return undefined;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    // First match wins: browsers send the most specific path first.
    return COOKIE_VALUE.test(value) ? value : undefined;
  }
  return undefined;
}

export interface CookieAttributes {
  path: string;
  maxAgeSeconds: number;
  secure: boolean;
}

/** HttpOnly always (scripts never need these), SameSite=Lax so the IdP's top-level redirect back still carries them. */
export function serializeCookie(name: string, value: string, attrs: CookieAttributes): string {
  const parts = [`${name}=${value}`, `Path=${attrs.path}`, `Max-Age=${Math.max(0, Math.floor(attrs.maxAgeSeconds))}`, 'HttpOnly', 'SameSite=Lax'];
  if (attrs.maxAgeSeconds <= 0) parts.push('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  if (attrs.secure) parts.push('Secure');
  return parts.join('; ');
}

export type SealPurpose = 'state' | 'session';

/** Encrypts and authenticates cookie payloads; a separate key per purpose so a state cookie can never pass as a session. */
export class CookieSealer {
  private readonly keys: Record<SealPurpose, Uint8Array>;

  constructor(secret: string | undefined) {
    const ikm = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
    const derive = (purpose: SealPurpose): Uint8Array =>
      new Uint8Array(hkdfSync('sha256', ikm, Buffer.alloc(0), `loki-oidc-cookie-${purpose}`, 32));
    this.keys = { state: derive('state'), session: derive('session') };
  }

  async seal(purpose: SealPurpose, claims: JWTPayload, nowMs: number, ttlSeconds: number): Promise<string> {
    const iat = Math.floor(nowMs / 1000);
    // jose is loaded on first use: a gateway without OIDC never holds it in memory.
    const { EncryptJWT } = await import('jose');
    return new EncryptJWT(claims)
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', typ: `loki-${purpose}` })
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .encrypt(this.keys[purpose]);
  }

  /** The payload, or undefined when the value is missing, tampered with, from another key, or expired. */
  async open(purpose: SealPurpose, value: string | undefined, nowMs: number): Promise<JWTPayload | undefined> {
    if (!value) return undefined;
    const { jwtDecrypt } = await import('jose');
    try {
      const { payload } = await jwtDecrypt(value, this.keys[purpose], {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        typ: `loki-${purpose}`,
        currentDate: new Date(nowMs),
        requiredClaims: ['exp'],
      });
      return payload;
    } catch {
      return undefined;
    }
  }
}
