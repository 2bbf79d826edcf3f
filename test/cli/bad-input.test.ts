// Adversarial sweep of the real `loki` CLI against a real lokid: unknown flags,
// missing arguments, bad numbers, unknown ids and invalid names in every
// command group. The rule: the exit code is the one docs/errors.md gives for
// the kind, stderr says what is wrong in one `loki: …` line (or commander's
// usage error), and there is never a stack trace or "unexpected error".
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { spawnDaemon, type DaemonProcess } from '../helpers/daemon.js';
import { entryArgv, shortTempDir } from '../helpers/entry.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function loki(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...entryArgv('cli'), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const USAGE = 2;
const NOT_FOUND = 5;

/** [argv, expected exit code, what stderr must mention]. */
type Case = [string[], number, RegExp];

const CASES: Case[] = [
  // Usage errors (commander or an option parser): exit 2.
  [['--no-such-flag'], USAGE, /unknown option/],
  [['no-such-command'], USAGE, /unknown command/],
  [['sandbox', 'logs', 'sbx-000000000000', '--tail', 'abc'], USAGE, /non-negative integer/],
  [['sandbox', 'logs', 'sbx-000000000000', '--tail', '-5'], USAGE, /--tail|integer|argument/],
  [['sandbox', 'start', '--memory', 'lots', '--', 'true'], USAGE, /size/],
  [['sandbox', 'start', '--cpus', 'many', '--', 'true'], USAGE, /cpus|number/],
  [['enterprise', 'token', 'generate'], USAGE, /missing required argument/],
  [['--url', 'http://127.0.0.1:1', '--token', 'loki_x', '--token-file', '/etc/hostname', 'status'], USAGE, /--token or --token-file, not both/],
  [['login', 'http://127.0.0.1:1', '--token-file', '/etc/hostname', '--with-token'], USAGE, /give the token one way/],
  [['enterprise', 'token', 'generate', 'bad', '--expires', '-5'], USAGE, /expires|days/],
  [['enterprise', 'token', 'generate', 'bad', '--scopes', 'root'], USAGE, /scope/],
  [['enterprise', 'token', 'generate', 'bad', '--role', 'god'], USAGE, /role/],
  [['enterprise', 'token', 'generate', 'bad name!'], USAGE, /name/],
  [['enterprise', 'token', 'revoke'], USAGE, /missing required argument/],
  // The daemon's audit writer used to answer these with 'audit event: "resource" contains control characters'.
  [['enterprise', 'token', 'revoke', 'a\u0001b'], USAGE, /invalid token name or id/],
  [['enterprise', 'token', 'revoke', 'y'.repeat(3000)], USAGE, /invalid token name or id/],
  [['enterprise', 'token', 'generate', 'a\u0001b'], USAGE, /invalid token name/],
  [['enterprise', 'audit', 'tail', '--lines', '0'], USAGE, /-n must be a number from 1 to 1000/],
  [['enterprise', 'audit', 'summary', '--since', 'notadate'], USAGE, /since|date/],
  [['policy', 'check', 'ls', '--profile', '../../etc'], USAGE, /profile/],
  [['approvals', 'list', '--status', 'maybe'], USAGE, /status/],
  [['audit', 'log', '--limit', 'abc'], USAGE, /integer/],
  [['start', '--provider', 'skynet', '--prompt', 'x', '--project', 'nope'], USAGE, /provider/],
  [['start', '--autonomy', 'yolo', '--prompt', 'x', '--project', 'nope'], USAGE, /autonomy/],
  [['start', '--max-iterations', 'abc', '--prompt', 'x'], USAGE, /integer/],
  // 0 used to reach the daemon as "unset" and silently mean the default cap / all entries / all lines.
  [['start', '--max-iterations', '0', '--prompt', 'x', '--project', 'nope'], USAGE, /positive integer/],
  [['audit', 'log', '--limit', '0'], USAGE, /positive integer/],
  [['sandbox', 'logs', 'sbx-000000000000', '--tail', '0'], USAGE, /positive integer/],
  [['sandbox', 'start', '--pids', '0', '--', 'true'], USAGE, /positive integer/],
  [['start', '--prompt', '', '--project', 'nope'], USAGE, /prompt|PRD/],
  // The plan is read here, also for a remote session (whose PRD is a path in the project): say where and why.
  [['start', '--prompt', 'x', '--provider', 'script', '--plan', 'no-such-plan.yaml'], USAGE, /cannot read the plan file \/\S*no-such-plan\.yaml \(ENOENT\); --plan is read on this machine/],
  [['sessions', 'show', 'not-a-session-id'], USAGE, /session/],
  [['session', 'diff', '../../etc'], USAGE, /session/],
  [['stop', 'ses-%00'], USAGE, /session/],
  [['metrics', '--bogus'], USAGE, /unknown option/],
  // Used to start lokid first and stop it again when the gateway refused the port.
  [['up', '--port', '70000'], USAGE, /port from 0 to 65535/],
  // Unknown ids: exit 5 with the specific not-found message.
  [['sandbox', 'status', 'sbx-000000000000'], NOT_FOUND, /sandbox/],
  [['sandbox', 'rm', 'no-such-box'], NOT_FOUND, /sandbox/],
  [['enterprise', 'token', 'revoke', 'no-such-token'], NOT_FOUND, /token/],
  [['approvals', 'approve', 'apr-000000000000'], NOT_FOUND, /approval/],
  [['sessions', 'show', 'ses-000000000000'], NOT_FOUND, /session/],
  [['session', 'branch', 'ses-000000000000'], NOT_FOUND, /session|workspace/],
  [['pause', 'ses-000000000000'], NOT_FOUND, /session/],
  [['start', '--provider', 'openai', '--model', 'm', '--base-url', 'http://127.0.0.1:1/v1', '--prompt', 'x', '--project', 'no-such-project'], NOT_FOUND, /no project/],
  // The registry: bad filters, depths, paths and names, and unknown projects.
  [['tasks', 'list', '--status', 'done'], USAGE, /--status must be one of/],
  [['tasks', 'list', '--limit', '0'], USAGE, /--limit must be an integer/],
  [['memory', 'search', '***'], USAGE, /at least one word/],
  [['memory', 'list', '--limit', 'lots'], USAGE, /--limit must be an integer/],
  [['projects', 'discover', '/', '--depth', '99'], USAGE, /--depth must be an integer from 0 to 8/],
  [['projects', 'discover', '/no/such/root'], USAGE, /does not exist/],
  [['projects', 'register', '/no/such/repo'], USAGE, /does not exist/],
  [['projects', 'register', '/', '--alias', 'Bad Alias'], USAGE, /invalid project name|not a git repository/],
  [['projects', 'health', 'no-such-project'], NOT_FOUND, /no project/],
  [['projects', 'prune', 'no-such-project'], NOT_FOUND, /no project/],
  [['tasks', 'list', '--project', 'no-such-project'], NOT_FOUND, /no project/],
  [['session', 'pr', 'ses-000000000000'], NOT_FOUND, /session|workspace/],
];

/** Runs `cases` with at most `width` CLIs at once (the machine is shared). */
async function runAll(cases: Case[], width: number, run: (c: Case) => Promise<Run>): Promise<Run[]> {
  const out: Run[] = new Array<Run>(cases.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < cases.length; i = next++) out[i] = await run(cases[i]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
  return out;
}

describe('loki CLI bad-input sweep (the real CLI against a real lokid)', function () {
  this.timeout(90_000);
  let home: string;
  let daemon: DaemonProcess;

  before(async () => {
    home = shortTempDir('lkb');
    daemon = await spawnDaemon(home);
  });
  after(async () => {
    await daemon?.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('answers every bad flag, number, name and unknown id with its documented exit code and one clear line', async () => {
    const env = { LOKI_HOME: home, LOKI_SOCKET: daemon.paths.adminSocket };
    const runs = await runAll(CASES, 3, ([argv]) => loki(argv, env));
    const wrong: string[] = [];
    CASES.forEach(([argv, code, mention], i) => {
      const r = runs[i]!;
      const cmd = `loki ${argv.map((a) => (a.length > 30 ? `${a.slice(0, 12)}…` : a)).join(' ')}`;
      const err = r.stderr.trim();
      if (r.code !== code) wrong.push(`${cmd}: exit ${r.code}, expected ${code} (${err.slice(0, 200)})`);
      else if (!mention.test(err)) wrong.push(`${cmd}: stderr does not mention ${mention}: ${err.slice(0, 200)}`);
      if (/\n\s+at |unexpected error|internal error/i.test(r.stderr)) wrong.push(`${cmd}: stack trace or internal error on stderr: ${err.slice(0, 300)}`);
      if (!/^(loki: |error: )/.test(err)) wrong.push(`${cmd}: stderr does not start with "loki: " or commander's "error: ": ${err.slice(0, 200)}`);
    });
    assert.deepEqual(wrong, [], `\n${wrong.join('\n')}`);
  });

  it('does not tell someone who named an unknown model upstream, or a script without a plan, to pick a provider', async () => {
    const env = { LOKI_HOME: home, LOKI_SOCKET: daemon.paths.adminSocket };
    const upstream = await loki(['start', '--provider', 'openai', '--upstream', 'nope', '--prompt', 'x', '--project', 'no-such-project'], env);
    assert.equal(upstream.code, USAGE, upstream.stderr);
    assert.match(upstream.stderr, /^loki: unknown model upstream "nope" for the openai provider/);
    const script = await loki(['start', '--provider', 'script', '--prompt', 'x', '--project', 'no-such-project'], env);
    assert.equal(script.code, USAGE, script.stderr);
    assert.match(script.stderr, /the script provider needs a plan/);
    for (const r of [upstream, script]) assert.doesNotMatch(r.stderr, /pick one with --provider/);
  });
});
