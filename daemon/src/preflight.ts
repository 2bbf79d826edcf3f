// What lokid checks of its config before it writes anything: every part its start
// would otherwise refuse halfway (the policy, the model keys). A start refused
// here leaves LOKI_HOME as it was: no admin token minted (and printed), no audit
// key, no database. (daemon.ts also refuses a second lokid on live sockets first:
// `refuseRunningDaemon` in grpc/listeners.ts.)
import { LokiError } from '../../common/src/index.js';
import type { DaemonConfig } from './config.js';
import { buildPolicyEngine } from './policy/config.js';
import { ModelUpstreams } from './sessions/upstreams.js';

/**
 * Checks what the schema cannot: the policy loads (profiles, rules and their match/not_match
 * examples) and the model upstreams' keys are set and sendable. Every problem is reported
 * together. `lokid --check-config`, the start and a SIGHUP reload all use this one check.
 */
export function checkDaemonConfig(config: DaemonConfig, env: NodeJS.ProcessEnv): void {
  const problems: string[] = [];
  for (const check of [() => buildPolicyEngine(config.policy), () => new ModelUpstreams(config.sessions, env)]) {
    try {
      check();
    } catch (err) {
      if (!(err instanceof LokiError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length) throw new LokiError('invalid_config', problems.join('\n'));
}
