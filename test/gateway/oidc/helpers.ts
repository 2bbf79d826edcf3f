// Shared bits for the OIDC tests: a silent logger, token minting, waiting.
import { SignJWT, type JWTPayload } from 'jose';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import type { SigningKey } from './provider.js';

export const silentLog = pino({ level: 'silent' });

export function nowSec(): number {
  return Math.floor(Date.now() / 1000);
}

/** Signs claims with a key; `header` overrides (e.g. a foreign kid). */
export async function mint(key: SigningKey, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header }).sign(key.privateKey);
}

export function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Polls `check` every 50 ms until it is true or `ms` pass. */
export async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}

export async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code: string; message: string };
  }
  throw new Error('expected the promise to reject');
}

/** Drives the test provider's own sign-in and consent forms in a browser page. */
export async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.fill('input[name=login]', login);
  await page.fill('input[name=password]', 'any');
  await page.click('button[type=submit]');
  await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
  await page.click('button[type=submit]');
}
