// `loki up` without the rest of the CLI. The parent of `loki up` lives as long as
// Loki runs and only supervises, so main.ts starts it straight from argv when the
// invocation is one this parser fully understands; anything else (help, other
// global options, a remote connection configured, a malformed flag) goes through
// the full command tree, which gives the same result with its own messages.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultLokiHome } from '../../../common/src/paths.js';
import type { UpOptions } from './supervisor.js';

export interface UpInvocation {
  home: string;
  json: boolean;
  options: UpOptions;
}

const UP_VALUES: Record<string, 'host' | 'port' | 'tlsCert' | 'tlsKey'> = { '--host': 'host', '--port': 'port', '--tls-cert': 'tlsCert', '--tls-key': 'tlsKey' };

/** Same file as login-store.ts loginFile (kept here: that module pulls in the logger). */
function loginFile(env: NodeJS.ProcessEnv): string {
  if (env.LOKI_CONFIG_DIR) return join(env.LOKI_CONFIG_DIR, 'login.json');
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'loki', 'login.json');
}

/** The `loki up` invocation in argv, or undefined when the full CLI must decide. */
export function parseUpInvocation(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): UpInvocation | undefined {
  let i = 0;
  let home: string | undefined;
  let json = false;
  const split = (a: string): [string, string | undefined] => {
    const eq = a.indexOf('=');
    return eq > 0 && a.startsWith('--') ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
  };
  for (; i < argv.length && argv[i] !== 'up'; i++) {
    const [flag, inline] = split(argv[i]!);
    if (flag === '--json' && inline === undefined) json = true;
    else if (flag === '--home') {
      home = inline ?? argv[++i];
      if (!home) return undefined;
    } else return undefined;
  }
  if (argv[i] !== 'up') return undefined;
  const options: UpOptions = { gateway: true };
  for (i++; i < argv.length; i++) {
    const [flag, inline] = split(argv[i]!);
    if (flag === '--no-gateway' && inline === undefined) {
      options.gateway = false;
      continue;
    }
    const key = UP_VALUES[flag];
    if (!key) return undefined;
    const v = inline ?? argv[++i];
    if (v === undefined || (inline === undefined && v.startsWith('-'))) return undefined;
    if (key === 'port') {
      if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) return undefined;
      options.port = Number(v);
    } else options[key] = v;
  }
  // Where the full CLI would talk to a gateway (and refuse `up`), let it say so.
  if (home === undefined && (env.LOKI_URL || (!env.LOKI_SOCKET && existsSync(loginFile(env))))) return undefined;
  return { home: home ?? defaultLokiHome(env), json, options };
}
