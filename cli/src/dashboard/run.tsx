// Starts the dashboard on a terminal: the alternate screen (so quitting leaves
// the shell's screen as it was), Ink rendering, and a guaranteed restore of
// the cursor and screen on exit, error or signal.
import { render } from 'ink';
import type { LokiClient } from '../../../client/src/index.js';
import { Dashboard } from './Dashboard.js';
import type { Theme } from './model.js';

export interface RunOptions {
  client: LokiClient;
  theme: Theme;
  readonly?: boolean;
  stdout?: NodeJS.WriteStream;
  stdin?: NodeJS.ReadStream;
}

const ENTER_ALT = '\u001b[?1049h\u001b[H';
const LEAVE_ALT = '\u001b[?25h\u001b[?1049l';
const CLEAR = '\u001b[2J\u001b[3J\u001b[H';

export async function runDashboard(o: RunOptions): Promise<void> {
  const stdout = o.stdout ?? process.stdout;
  const stdin = o.stdin ?? process.stdin;
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    stdout.write(LEAVE_ALT);
  };
  // 128 + signal number, as a shell reports a process killed by it.
  const onTerm = () => {
    restore();
    process.exit(143);
  };
  const onHup = () => {
    restore();
    process.exit(129);
  };
  // The terminal reflows what is on screen when it narrows, so Ink's "erase the
  // last frame's lines" would leave torn pieces: wipe the screen first (this
  // listener runs before Ink's own), then Ink draws the whole frame afresh.
  const onResize = () => stdout.write(CLEAR);
  stdout.write(ENTER_ALT);
  stdout.prependListener('resize', onResize);
  process.once('SIGTERM', onTerm);
  process.once('SIGHUP', onHup);
  process.once('exit', restore);
  try {
    const app = render(<Dashboard client={o.client} theme={o.theme} readonly={o.readonly} />, { stdout, stdin, exitOnCtrlC: false, patchConsole: false });
    await app.waitUntilExit();
    app.clear();
    app.unmount();
  } finally {
    restore();
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    process.off('exit', restore);
    stdout.off('resize', onResize);
  }
}
