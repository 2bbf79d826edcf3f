// What lokid checks of its config before it writes anything: every part its start
// would otherwise refuse halfway (the policy, the model keys, the TCP listener's
// TLS files). A start refused here leaves LOKI_HOME as it was: no admin token
// minted (and printed), no audit key, no database. (daemon.ts also refuses a
// second lokid on live sockets first: `refuseRunningDaemon` in grpc/listeners.ts.)
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { LokiError } from '../../common/src/index.js';
import type { DaemonConfig } from './config.js';
import { buildPolicyEngine } from './policy/config.js';
import { ModelUpstreams } from './sessions/upstreams.js';

/**
 * Checks what the schema cannot: the policy loads (profiles, rules and their match/not_match
 * examples), the model upstreams' keys are set and sendable, and the TCP listener's certificate,
 * key and client CA load. Every problem is reported together. `lokid --check-config`, the start
 * and a SIGHUP reload all use this one check.
 */
export function checkDaemonConfig(config: DaemonConfig, env: NodeJS.ProcessEnv): void {
  const problems: string[] = [];
  for (const check of [() => buildPolicyEngine(config.policy), () => new ModelUpstreams(config.sessions, env), () => checkTcpTls(config.tcp)]) {
    try {
      check();
    } catch (err) {
      if (!(err instanceof LokiError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length) throw new LokiError('invalid_config', problems.join('\n'));
}

/** Reads a PEM file for the TCP listener; undefined (with the problem noted) when it cannot be read or parsed. */
function pem<T>(path: string, setting: string, what: string, parse: (pem: Buffer) => T, problems: string[]): T | undefined {
  try {
    return parse(readFileSync(path));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // The reason from OpenSSL or the file system, never the file's content.
    problems.push(`${setting}: ${path} ${e.code?.startsWith('E') && e.syscall ? `cannot be read (${e.code})` : `is not a PEM ${what} (${e.message.split('\n')[0]?.slice(0, 120)})`}`);
    return undefined;
  }
}

/**
 * The mutual-TLS listener's files load, and the key belongs to the certificate. The schema only
 * checks that they exist; a file that is not PEM used to stop the start with a stack trace, after
 * the database, the audit key and the admin token had been made.
 */
function checkTcpTls(tcp: DaemonConfig['tcp']): void {
  if (!tcp.listen || !tcp.cert || !tcp.key || !tcp.client_ca) return;
  const problems: string[] = [];
  const cert = pem(tcp.cert, 'tcp.cert', 'certificate', (b) => new X509Certificate(b), problems);
  const key = pem(tcp.key, 'tcp.key', 'private key', (b) => createPrivateKey(b), problems);
  pem(tcp.client_ca, 'tcp.client_ca', 'certificate', (b) => new X509Certificate(b), problems);
  if (cert && key && !cert.checkPrivateKey(key)) problems.push(`tcp.key: ${tcp.key} is not the private key of the certificate in tcp.cert (${tcp.cert})`);
  if (problems.length) throw new LokiError('invalid_config', problems.join('\n'));
}
