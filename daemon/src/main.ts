#!/usr/bin/env node
// lokid: the privileged supervisor. Usage: lokid [--config FILE] [--home DIR] [--log-level L]
import { parseArgs } from 'node:util';
import { trimHeapWhenSettled } from '../../common/src/heap-trim.js';
import { ConfigError, LokiError, createLogger, isMainModule, VERSION } from '../../common/src/index.js';
import { loadDaemonConfig } from './config.js';
import { checkDaemonConfig } from './preflight.js';
import { startDaemon, type DaemonHandle } from './daemon.js';
import { createNotifier } from './systemd.js';

const HELP = `lokid ${VERSION} — the Loki daemon

Usage: lokid [--config FILE] [--home DIR] [--log-level LEVEL]

  --config FILE     config file (default: $LOKI_CONFIG, else $LOKI_HOME/config.yaml if present)
  --home DIR        state directory (default: $LOKI_HOME, else ~/.loki)
  --log-level L     fatal|error|warn|info|debug|trace (default: info)
  --check-config    validate the config, print every problem, and exit
Signals: SIGTERM/SIGINT stop gracefully; SIGHUP re-reads and checks the config and applies log_level
(other changes, such as the policy, are named in the log and need a restart).
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string' },
        home: { type: 'string' },
        'log-level': { type: 'string' },
        'check-config': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'V' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`lokid: ${(err as Error).message}\n${HELP}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const env = { ...process.env, ...(args.home ? { LOKI_HOME: args.home } : {}), ...(args['log-level'] ? { LOKI_LOG_LEVEL: args['log-level'] } : {}) };
  const configFile = args.config;
  if (args['check-config']) {
    const config = loadDaemonConfig({ env, ...(configFile ? { configFile } : {}) });
    // The start's own check (policy, model keys, TCP TLS files): a config that start refuses is never "OK".
    try {
      checkDaemonConfig(config, env);
    } catch (err) {
      if (!(err instanceof LokiError)) throw err;
      process.stderr.write(`lokid: ${err.message}\n`);
      return err.exitCode;
    }
    process.stdout.write('config OK\n');
    return 0;
  }
  const bootLog = createLogger({ name: 'lokid', level: env.LOKI_LOG_LEVEL ?? 'info', pretty: Boolean(process.stderr.isTTY) });
  const notifier = createNotifier(process.env, bootLog);
  let daemon: DaemonHandle;
  try {
    daemon = await startDaemon({ env, ...(configFile ? { configFile } : {}), logger: bootLog });
  } catch (err) {
    if (err instanceof LokiError) {
      process.stderr.write(`lokid: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
  bootLog.level = daemon.config.log_level;
  await notifier.ready(`serving on ${daemon.paths.adminSocket}`);
  // Give back the young generation that startup (migrations, reconcile, module loading) grew.
  trimHeapWhenSettled();
  const stopWatchdog = notifier.startWatchdog();

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    daemon.log.info({ signal }, 'shutting down');
    await notifier.stopping();
    stopWatchdog();
    await daemon.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => {
    void (async () => {
      await notifier.reloading();
      try {
        const next = loadDaemonConfig({ env, ...(configFile ? { configFile } : {}) });
        // Checked as start checks it, so a policy (or model key) that would not load is refused here too.
        checkDaemonConfig(next, env);
        bootLog.level = next.log_level;
        // Only log_level is applied live; say which changed sections wait for a restart instead of
        // letting "config reloaded" suggest that a tightened policy is already enforced.
        const needsRestart = changedSections(daemon.config, next);
        if (needsRestart.length) {
          daemon.log.warn({ log_level: next.log_level, needs_restart: needsRestart }, `config reloaded: only log_level applies now; restart lokid to apply the changes to ${needsRestart.join(', ')}`);
        } else {
          daemon.log.info({ log_level: next.log_level }, 'config reloaded');
        }
        await daemon.audit.audit.record({ action: 'config.change', user: 'system', resource: 'config:daemon', result: 'success', details: { trigger: 'SIGHUP', log_level: next.log_level, needs_restart: needsRestart } });
      } catch (err) {
        const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
        daemon.log.error({ problems }, 'config reload refused; keeping the running config');
        await daemon.audit.audit.record({ action: 'config.change', user: 'system', resource: 'config:daemon', result: 'error', reason: problems.join('; ').slice(0, 500), details: { trigger: 'SIGHUP' } });
      }
      await notifier.ready();
    })();
  });
  return -1;
}

/** The top-level config sections, other than log_level, whose value differs between two configs. */
function changedSections(running: object, next: object): string[] {
  const a = running as Record<string, unknown>;
  const b = next as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => k !== 'log_level');
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k])).sort();
}

// Nothing runs on import; real paths so a symlinked lokid (npm link, /usr/local/bin) still starts.
if (isMainModule(import.meta.url)) {
  main().then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      if (err instanceof LokiError) {
        process.stderr.write(`lokid: ${err.message}\n`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`lokid: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
