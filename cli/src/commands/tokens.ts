// `loki enterprise token generate|list|revoke`: Loki Mode's commands and output,
// backed by the daemon's TokenService on the admin socket.
import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import { TokenServiceClient, type Token } from '../../../proto/gen/loki/v1/tokens.js';
import { call, connectDaemon, type DaemonConnection } from '../client.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';

const MAX_EXPIRES_DAYS = 3650;
// The daemon's token-name rule, checked here too: the daemon audits a refused
// request with the name in the event, and its audit writer rejects over-long or
// control-character values, which replaced the real error (see the bad-input sweep).
const TOKEN_REF = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function checkTokenRef(value: string, what: string): string {
  if (!TOKEN_REF.test(value)) {
    const shown = JSON.stringify(value.length > 70 ? `${value.slice(0, 70)}…` : value);
    throw new LokiError('invalid_argument', `invalid ${what} ${shown}: use 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit`);
  }
  return value;
}

/** `--expires DAYS`: a whole number of days, or `never`. */
export function parseExpires(value: string): number {
  if (/^never$/i.test(value.trim())) return -1;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_EXPIRES_DAYS) {
    throw new LokiError('invalid_argument', `--expires must be a number of days from 1 to ${MAX_EXPIRES_DAYS} or "never", got ${JSON.stringify(value)}`);
  }
  return n;
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function status(t: Token, now: number): 'active' | 'expired' | 'revoked' {
  if (t.revokedAtMs > 0) return 'revoked';
  if (t.expiresAtMs > 0 && t.expiresAtMs <= now) return 'expired';
  return 'active';
}

/** The `--json` shape: explicit snake_case fields, timestamps as ISO strings or null. */
export function tokenJson(t: Token, now: number): Record<string, unknown> {
  const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);
  return {
    id: t.id,
    name: t.name,
    role: t.role || null,
    scopes: t.scopes,
    owner: t.owner,
    status: status(t, now),
    created_at: iso(t.createdAtMs),
    expires_at: iso(t.expiresAtMs),
    revoked_at: iso(t.revokedAtMs),
    last_used_at: iso(t.lastUsedAtMs),
  };
}

async function withTokens<T>(ctx: CliContext, fn: (conn: DaemonConnection, client: TokenServiceClient) => Promise<T>): Promise<T> {
  const conn = connectDaemon(ctx.globals());
  try {
    return await fn(conn, conn.get(TokenServiceClient));
  } finally {
    conn.close();
  }
}

export function registerTokenCommands(enterprise: Command, ctx: CliContext): void {
  const token = enterprise.command('token').description('manage API tokens for the gateway (admin)');

  token
    .command('generate')
    .description('create an API token; the secret is shown once')
    .argument('<name>', 'token name (letters, digits, ".", "_", "-")')
    .option('--scopes <list>', 'comma-separated scopes: *, control, write, read, audit')
    .option('--role <role>', 'admin | operator | viewer | auditor')
    .option('--expires <days>', 'days until expiry, or "never" (default: tokens.default_expiration_days)')
    .action(async (name: string, opts: { scopes?: string; role?: string; expires?: string }) => {
      checkTokenRef(name, 'token name');
      const expiresDays = opts.expires === undefined ? 0 : parseExpires(opts.expires);
      const scopes = opts.scopes === undefined ? [] : opts.scopes.split(',').map((s) => s.trim());
      if (opts.scopes !== undefined && scopes.every((s) => s === '')) {
        throw new LokiError('invalid_argument', '--scopes is empty; give at least one scope or leave it out');
      }
      const res = await withTokens(ctx, (conn, client) =>
        call(conn, client.generate.bind(client), { name, scopes, role: opts.role ?? '', expiresDays }),
      );
      const t = res.token!;
      printLine('Token generated successfully!');
      printLine();
      printLine(`Name:    ${t.name}`);
      printLine(`ID:      ${t.id}`);
      printLine(`Token:   ${res.secret}`);
      printLine(`Scopes:  ${t.scopes.join(', ')}`);
      printLine(`Expires: ${t.expiresAtMs > 0 ? day(t.expiresAtMs) : 'never'}`);
      printLine();
      printLine("IMPORTANT: Save this token - it won't be shown again!");
    });

  token
    .command('list')
    .description('list active tokens')
    .option('--all', 'include revoked and expired tokens')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const res = await withTokens(ctx, (conn, client) => call(conn, client.list.bind(client), { all: opts.all === true }));
      const now = Date.now();
      if (opts.json) {
        printJson(res.tokens.map((t) => tokenJson(t, now)));
        return;
      }
      if (res.tokens.length === 0) {
        printLine(opts.all ? 'No tokens.' : 'No active tokens.');
        return;
      }
      printTable(
        ['NAME', 'ID', 'ROLE', 'SCOPES', 'CREATED', 'EXPIRES', 'STATUS', 'LAST-USED'],
        res.tokens.map((t) => [
          t.name,
          t.id,
          t.role || 'custom',
          t.scopes.join(','),
          day(t.createdAtMs),
          t.expiresAtMs > 0 ? day(t.expiresAtMs) : 'never',
          status(t, now),
          t.lastUsedAtMs > 0 ? formatTime(t.lastUsedAtMs) : 'never',
        ]),
      );
    });

  token
    .command('revoke')
    .description('revoke a token by name or id (takes effect at the gateway within its cache window, at most 5 s)')
    .argument('<name-or-id>')
    .action(async (nameOrId: string) => {
      checkTokenRef(nameOrId, 'token name or id');
      const res = await withTokens(ctx, (conn, client) => call(conn, client.revoke.bind(client), { nameOrId }));
      const t = res.token!;
      printLine(`Token revoked: ${t.name} (${t.id})`);
    });
}
