// Short-lived, single-use tickets for browsers' SSE and WebSocket connections:
// EventSource and WebSocket cannot send an Authorization header, and a
// long-lived token must never travel in a URL (it lands in proxy logs,
// browser history and Referer headers). A ticket is bound to the subject that
// asked for it and to one exact path, lives at most 60 s and is spent on first
// use, whether that use succeeds or not.
import { createHash, randomBytes } from 'node:crypto';
import type { Identity } from '../auth/identity.js';

export const MAX_TICKET_TTL_MS = 60_000;
const MAX_TICKETS = 10_000;
const MAX_PER_SUBJECT = 64;
// `lst_` + 32 random bytes base64url: unguessable, and distinct from `loki_` tokens.
const TICKET_SHAPE = /^lst_[A-Za-z0-9_-]{43}$/;

interface Entry {
  identity: Identity;
  path: string;
  expiresAt: number;
}

export interface IssuedTicket {
  ticket: string;
  path: string;
  expiresAt: number;
}

export type Redeemed = { ok: true; identity: Identity } | { ok: false; message: string };

const digest = (t: string) => createHash('sha256').update(t).digest('base64url');

export class StreamTicketStore {
  private readonly ttlMs: number;
  private readonly now: () => number;
  // Keyed by the ticket's hash, so a heap dump does not hand out live tickets.
  private readonly tickets = new Map<string, Entry>();

  constructor(opts: { ttlMs?: number; now?: () => number } = {}) {
    this.ttlMs = Math.min(opts.ttlMs ?? MAX_TICKET_TTL_MS, MAX_TICKET_TTL_MS);
    if (!(this.ttlMs > 0)) throw new Error('stream ticket ttl must be positive');
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.tickets.size;
  }

  issue(identity: Identity, path: string): IssuedTicket {
    const now = this.now();
    this.prune(now);
    let mine = 0;
    let oldestMine: string | undefined;
    for (const [k, e] of this.tickets) {
      if (e.identity.subject !== identity.subject) continue;
      mine += 1;
      oldestMine ??= k;
    }
    // A subject cannot fill the table: its oldest unused ticket makes room for the new one.
    if (mine >= MAX_PER_SUBJECT && oldestMine) this.tickets.delete(oldestMine);
    if (this.tickets.size >= MAX_TICKETS) {
      const first = this.tickets.keys().next();
      if (!first.done) this.tickets.delete(first.value);
    }
    const ticket = `lst_${randomBytes(32).toString('base64url')}`;
    const expiresAt = now + this.ttlMs;
    // The cookie flag is dropped: a ticket is a credential of its own, used for a GET.
    const { viaCookie: _drop, ...plain } = identity;
    this.tickets.set(digest(ticket), { identity: plain, path, expiresAt });
    return { ticket, path, expiresAt };
  }

  /** Spends the ticket; it is valid only for `path`, before it expires, and only once. */
  redeem(ticket: string, path: string): Redeemed {
    if (!TICKET_SHAPE.test(ticket)) return { ok: false, message: 'the stream ticket is malformed' };
    const key = digest(ticket);
    const e = this.tickets.get(key);
    if (!e) return { ok: false, message: 'the stream ticket is unknown or already used' };
    this.tickets.delete(key);
    if (e.expiresAt <= this.now()) return { ok: false, message: 'the stream ticket has expired; ask for a new one' };
    if (e.path !== path) return { ok: false, message: 'the stream ticket was issued for another path' };
    return { ok: true, identity: e.identity };
  }

  /** Spends a ticket without using it (it was shown somewhere it is refused). Anything not shaped like a ticket is ignored. */
  discard(ticket: unknown): void {
    if (typeof ticket === 'string' && TICKET_SHAPE.test(ticket)) this.tickets.delete(digest(ticket));
  }

  private prune(now: number): void {
    for (const [k, e] of this.tickets) if (e.expiresAt <= now) this.tickets.delete(k);
  }
}
