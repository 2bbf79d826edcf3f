#!/usr/bin/env node
import { isMainModule } from '../../common/src/index.js';
import { runCli } from './program.js';
import { installProcessHandlers } from './output.js';

installProcessHandlers();

// Nothing runs on import; real paths so a symlinked `loki` (npm link, /usr/local/bin) still runs.
if (isMainModule(import.meta.url)) {
  runCli(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
