// A lokid process with the session feature mounted, for SIGKILL/restart tests.
// Usage: node fixture-lokid.js HOME   (prints "ready" once serving)
// LOKI_TEST_HANG_AFTER=clone|workspace|sandbox|teardown: a session start (or end) stops for
// good right after that step (its workspace directory was claimed and half cloned / its
// workspace was created / its sandbox started / its sandbox removed) and prints "hang:<step>",
// so a test can SIGKILL the daemon exactly there instead of guessing with a sleep.
// LOKI_TEST_HANG_AUDIT=ACTION: the audit entry of that action is never written (its
// record() never returns) and "hang:audit:ACTION" is printed: a kill before it is durable.
// LOKI_TEST_HANG_EVENT=TYPE: the first session event of that type is written (committed) and its
// append never returns; "hang:event:TYPE" is printed: a kill after it is durable, before what follows it.
// LOKI_TEST_PAUSE_DECIDE_RECORD=1: the first numbered Decide that asks a human stops before its record
// (number, action, approval) is written, prints "pause:decide-record" and goes on at SIGUSR2: a test
// can put a Hello between an approval's creation and its Decide's record.
// LOKI_TEST_PAUSE_AUDIT=ACTION: the first audit entry of that action stops before it is written,
// prints "pause:audit:ACTION" and goes on at SIGUSR2 (a call held there, without a crash).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '../../../common/src/index.js';
import { startDaemon } from '../../../daemon/src/daemon.js';
import { defaultSessionsConfig } from '../../../daemon/src/sessions/config.js';
import { createSessionFeature } from '../../../daemon/src/sessions/feature.js';
import { COUNTER_COMMAND } from './helpers.js';

const home = process.argv[2];
if (!home) throw new Error('usage: fixture-lokid HOME');
const hangAfter = process.env.LOKI_TEST_HANG_AFTER ?? '';
const hangAudit = process.env.LOKI_TEST_HANG_AUDIT ?? '';
const hangEvent = process.env.LOKI_TEST_HANG_EVENT ?? '';
let pauseDecideRecord = process.env.LOKI_TEST_PAUSE_DECIDE_RECORD === '1';
let pauseAudit = process.env.LOKI_TEST_PAUSE_AUDIT ?? '';

/** Runs `step`, then (when it is the step named) says so and never returns. */
function hangAfterStep<A extends unknown[], R>(name: string, step: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  if (hangAfter !== name) return step;
  return async (...args: A) => {
    await step(...args);
    process.stdout.write(`hang:${name}\n`);
    return new Promise<R>(() => undefined);
  };
}

const d = await startDaemon({
  home,
  env: { PATH: process.env.PATH ?? '' },
  logger: createLogger({ name: 'lokid', level: process.env.LOKI_TEST_LOG ?? 'warn' }),
  overrides: { sandbox: { image: process.env.LOKI_TEST_IMAGE ?? 'loki-sandbox:latest', runtime: process.env.LOKI_TEST_RUNTIME ?? 'runc', stop_timeout_seconds: 2 } },
  features: (b) => {
    const record = b.audit.record.bind(b.audit);
    b.audit.record = (e) => {
      if (pauseAudit && e.action === pauseAudit) {
        pauseAudit = '';
        const resume = new Promise((r) => process.once('SIGUSR2', r));
        process.stdout.write(`pause:audit:${e.action}\n`);
        return resume.then(() => record(e));
      }
      // The first start's own local-admin token (audited as token.generate too) is not the call under test.
      if (e.action !== hangAudit || e.details?.bootstrap === true) return record(e);
      process.stdout.write(`hang:audit:${e.action}\n`);
      return new Promise<void>(() => undefined);
    };
    const sessions = b.repos.sessions;
    const append = sessions.append.bind(sessions);
    sessions.append = async (...args: Parameters<typeof append>) => {
      const e = await append(...args);
      if (e.type !== hangEvent) return e;
      process.stdout.write(`hang:event:${e.type}\n`);
      return new Promise<never>(() => undefined);
    };
    const updateCounters = sessions.updateCounters.bind(sessions);
    sessions.updateCounters = async (...args: Parameters<typeof updateCounters>) => {
      const decide = args[1].decide;
      if (pauseDecideRecord && decide && !decide.noted && decide.approvalId) {
        pauseDecideRecord = false;
        const resume = new Promise((r) => process.once('SIGUSR2', r));
        process.stdout.write('pause:decide-record\n');
        await resume;
      }
      return updateCounters(...args);
    };
    const workspaces = b.git.workspaces;
    workspaces.createWorkspace = hangAfterStep('workspace', workspaces.createWorkspace.bind(workspaces));
    // What a crash in the middle of the clone leaves: the claimed directory, part of a checkout, no record.
    if (hangAfter === 'clone') {
      workspaces.createWorkspace = hangAfterStep('clone', async (input: { sessionId: string }) => {
        mkdirSync(join(b.paths.workspacesDir, input.sessionId, '.git'), { recursive: true });
        writeFileSync(join(b.paths.workspacesDir, input.sessionId, 'README.md'), '# half a checkout\n');
        return undefined as never;
      });
    }
    b.manager.start = hangAfterStep('sandbox', b.manager.start.bind(b.manager));
    b.manager.teardown = hangAfterStep('teardown', b.manager.teardown.bind(b.manager));
    return createSessionFeature({
      ...b,
      sandboxes: b.manager,
      sessions: defaultSessionsConfig({ runner_command: COUNTER_COMMAND, check_interval_ms: 200, stop_grace_seconds: 1 }),
    });
  },
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => void d.close().then(() => process.exit(0)));
