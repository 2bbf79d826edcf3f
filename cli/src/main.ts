#!/usr/bin/env node
import { KIND_MAP, LokiError } from '../../common/src/errors.js';
import { isMainModule } from '../../common/src/main-module.js';
import { hideSecretArgs } from './argv-secrets.js';
import { installProcessHandlers } from './output.js';
import { parseUpInvocation } from './up/fast-path.js';

installProcessHandlers();

/** `loki up` straight to the supervisor: it stays resident, so it loads only what supervising needs. */
async function runUpOnly(up: NonNullable<ReturnType<typeof parseUpInvocation>>): Promise<number> {
  try {
    const { runUp } = await import('./up/supervisor.js');
    return await runUp(up.options, up.home);
  } catch (err) {
    const le = err instanceof LokiError ? err : new LokiError('internal', `unexpected error: ${(err as Error)?.message ?? String(err)}`);
    process.stderr.write(up.json ? JSON.stringify({ error: { code: le.code, message: le.message } }) + '\n' : `loki: ${le.message}\n`);
    return err instanceof LokiError ? KIND_MAP[le.kind].exit : 1;
  }
}

// Nothing runs on import; real paths so a symlinked `loki` (npm link, /usr/local/bin) still runs.
if (isMainModule(import.meta.url)) {
  hideSecretArgs();
  const argv = process.argv.slice(2);
  const up = parseUpInvocation(argv);
  // Everything else loads the whole command tree (commander, the client, Ink) on demand.
  const run = up ? runUpOnly(up) : import('./program.js').then(({ runCli }) => runCli(argv));
  run.then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
