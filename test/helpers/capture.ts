// Runs CLI code in this process with stdout/stderr captured (and process.exitCode
// restored), so CLI tests read exactly what a user would see.
import { runCli } from '../../cli/src/program.js';

export interface Captured<T> {
  value: T;
  out: string;
  err: string;
  /** process.exitCode as the code left it (0 when unset). */
  exitCode: number;
}

const text = (c: string | Uint8Array): string => (typeof c === 'string' ? c : Buffer.from(c).toString('utf8'));

export async function captureOutput<T>(fn: () => Promise<T> | T): Promise<Captured<T>> {
  let out = '';
  let err = '';
  const w = process.stdout.write.bind(process.stdout);
  const e = process.stderr.write.bind(process.stderr);
  const before = process.exitCode;
  process.stdout.write = ((c: string | Uint8Array) => ((out += text(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((err += text(c)), true)) as typeof process.stderr.write;
  try {
    const value = await fn();
    return { value, out, err, exitCode: typeof process.exitCode === 'number' ? process.exitCode : 0 };
  } finally {
    process.stdout.write = w;
    process.stderr.write = e;
    process.exitCode = before;
  }
}

/** `loki --socket <socket> …args` through the real command tree. */
export async function lokiOn(socket: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await captureOutput(() => runCli(['--socket', socket, ...args]));
  return { code: r.value, out: r.out, err: r.err };
}
