// `loki enterprise token generate|list|revoke`: Loki Mode's commands and output,
// through the LokiClient.
import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import { withClient, type CliContext } from '../context.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { jsonMode } from './options.js';

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

const day = (iso: string | null) => (iso ? iso.slice(0, 10) : 'never');

export function registerTokenCommands(enterprise: Command, ctx: CliContext): void {
  const token = enterprise.command('token').description('manage API tokens for the gateway (admin)');

  token
    .command('generate')
    .description('create an API token; the secret is shown once')
    .argument('<name>', 'token name (letters, digits, ".", "_", "-")')
    .option('--scopes <list>', 'comma-separated scopes: *, control, write, read, audit')
    .option('--role <role>', 'admin | operator | viewer | auditor')
    .option('--expires <days>', 'days until expiry, or "never" (default: tokens.default_expiration_days)')
    .option('--json', 'print JSON (the secret is in "secret")')
    .action(async (name: string, opts: { scopes?: string; role?: string; expires?: string; json?: boolean }) => {
      checkTokenRef(name, 'token name');
      const expiresDays = opts.expires === undefined ? 0 : parseExpires(opts.expires);
      const scopes = opts.scopes === undefined ? [] : opts.scopes.split(',').map((s) => s.trim());
      if (opts.scopes !== undefined && scopes.every((s) => s === '')) {
        throw new LokiError('invalid_argument', '--scopes is empty; give at least one scope or leave it out');
      }
      const r = await withClient(ctx, (c) => c.tokens.generate({ name, scopes, ...(opts.role ? { role: opts.role } : {}), expires_days: expiresDays }));
      if (jsonMode(ctx, opts)) return printJson({ ...r.token, secret: r.secret });
      const t = r.token;
      printLine('Token generated successfully!');
      printLine();
      printLine(`Name:    ${t.name}`);
      printLine(`ID:      ${t.id}`);
      printLine(`Token:   ${r.secret}`);
      printLine(`Scopes:  ${t.scopes.join(', ')}`);
      printLine(`Expires: ${day(t.expires_at)}`);
      printLine();
      printLine("IMPORTANT: Save this token - it won't be shown again!");
    });

  token
    .command('list')
    .alias('ls')
    .description('list active tokens')
    .option('--all', 'include revoked and expired tokens')
    .option('--json', 'print JSON')
    .action(async (opts: { all?: boolean; json?: boolean }) => {
      const rows = await withClient(ctx, (c) => c.tokens.list({ all: opts.all === true }));
      if (jsonMode(ctx, opts)) return printJson({ tokens: rows });
      if (rows.length === 0) return printLine(opts.all ? 'No tokens.' : 'No active tokens.');
      printTable(
        ['NAME', 'ID', 'ROLE', 'SCOPES', 'CREATED', 'EXPIRES', 'STATUS', 'LAST-USED'],
        rows.map((t) => [t.name, t.id, t.role ?? 'custom', t.scopes.join(','), day(t.created_at), day(t.expires_at), t.status, t.last_used_at ? formatTime(t.last_used_at) : 'never']),
      );
    });

  token
    .command('revoke')
    .description('revoke a token by name or id (takes effect at the gateway within its cache window, at most 5 s)')
    .argument('<name-or-id>')
    .option('--json', 'print JSON')
    .action(async (nameOrId: string, opts: { json?: boolean }) => {
      checkTokenRef(nameOrId, 'token name or id');
      const t = await withClient(ctx, (c) => c.tokens.revoke(nameOrId));
      if (jsonMode(ctx, opts)) return printJson({ revoked: true, token: t });
      printLine(`Token revoked: ${t.name} (${t.id})`);
    });
}
