// `loki login URL` / `loki logout`: remember a gateway and its token (like
// `gh auth login`), so later commands talk to it without --url/--token.
// The token is checked against the gateway before anything is stored.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { LokiError } from '../../../common/src/index.js';
import { openClient, readTokenFile, type CliContext } from '../context.js';
import { loginFile, removeLogin, writeLogin } from '../login-store.js';
import { printJson, printLine } from '../output.js';
import { jsonMode } from './options.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** Asks on the terminal without echoing the token. */
function prompt(question: string): Promise<string> {
  return new Promise((resolvePrompt) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput?: (s: string) => void };
    rl.question(question, (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolvePrompt(answer.trim());
    });
    out._writeToOutput = () => undefined;
  });
}

export function registerLoginCommands(program: Command, ctx: CliContext): void {
  program
    .command('login')
    .description('remember a Loki gateway and an API token for it (stored 0600 in ~/.config/loki/login.json)')
    .argument('<url>', 'gateway base URL, e.g. https://loki.example.com:57374')
    .option('--token-file <file>', 'read the token from a file')
    .option('--with-token', 'read the token from standard input')
    .option('--ca-file <file>', "PEM CA that signed the gateway's certificate (remembered too)")
    .option('--json', 'print JSON')
    .action(async (url: string, o: { tokenFile?: string; withToken?: boolean; caFile?: string; json?: boolean }) => {
      const g = ctx.globals();
      let token = g.token ?? process.env.LOKI_TOKEN?.trim();
      const file = o.tokenFile ?? g.tokenFile;
      if ((g.token !== undefined ? 1 : 0) + (file !== undefined ? 1 : 0) + (o.withToken ? 1 : 0) > 1) {
        throw new LokiError('invalid_argument', 'give the token one way: --token-file, --with-token or --token, not several');
      }
      if (file) token = readTokenFile(file);
      else if (o.withToken) token = await readStdin();
      else if (!token && process.stdin.isTTY) token = await prompt('API token (loki_…): ');
      if (!token) throw new LokiError('invalid_argument', 'give the token with --token-file FILE, --with-token (stdin) or $LOKI_TOKEN');
      const caFile = o.caFile ?? g.caFile ?? process.env.LOKI_CA_FILE;
      const caPath = caFile ? resolve(caFile) : undefined;
      const client = await openClient({ kind: 'remote', url, token, ...(caPath ? { caFile: caPath } : {}), source: 'flag' });
      let subject: string;
      try {
        subject = (await client.status()).caller.subject;
      } finally {
        client.close();
      }
      const path = writeLogin({ url, token, ...(caPath ? { ca_file: caPath } : {}), saved_at: new Date().toISOString() });
      if (jsonMode(ctx, o)) return printJson({ url, subject, file: path });
      printLine(`Logged in to ${url} as ${subject}.`);
      printLine(`Saved to ${path} (mode 0600). \`loki logout\` forgets it.`);
    });

  program
    .command('logout')
    .description('forget the stored gateway and token')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) => {
      const removed = removeLogin();
      if (jsonMode(ctx, o)) return printJson({ logged_out: removed, file: loginFile() });
      printLine(removed ? `Logged out (removed ${loginFile()}).` : 'Not logged in.');
    });
}
