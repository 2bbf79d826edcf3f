// The slot's waiter (slotCommand) run with the host's node and the real
// agent-runner bundle: the bundle is loaded before the claim but reads nothing
// session-specific until the claim, then uses the claim's values; any other node
// entry is held back whole until the claim.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLAIM_JSON, slotCommand, wakeSlot } from '../../../daemon/src/sandbox/pool-slot.js';
import { runnerBundleRoot } from '../sessions/helpers.js';

interface Proc {
  child: ChildProcess;
  out: () => string;
  exit: Promise<number | null>;
}

function spawnSlot(argv: string[], env: Record<string, string>): Proc {
  const child = spawn(process.execPath, argv.slice(1), { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

async function waitFor(what: string, fn: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) if (fn()) return;
  throw new Error(`timed out waiting for ${what}`);
}

/** Whether the process catches SIGUSR2 (what wakeSlot checks before it signals). */
function catchesUsr2(pid: number): boolean {
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return !!m && (BigInt(`0x${m[1]}`) & (1n << 11n)) !== 0n;
}

/**
 * A listener on `path` that resolves when something connects: where the runner went. (With no
 * daemon there at all, the runner keeps saying Hello for a minute before it gives up.)
 */
function connectionOn(path: string, servers: Server[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => {
      c.destroy();
      resolve();
    });
    servers.push(server);
    server.on('error', reject);
    server.listen(path);
  });
}

/** What the daemon does at claim: the env as JSON, written whole then renamed. */
function claim(dir: string, env: Record<string, string>): void {
  writeFileSync(join(dir, '.claim.tmp'), JSON.stringify(env));
  renameSync(join(dir, '.claim.tmp'), join(dir, CLAIM_JSON));
}

describe('pool slot waiter (slotCommand)', function () {
  this.timeout(60_000);
  let dir: string;
  let procs: Proc[] = [];
  let servers: Server[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'loki-waiter-'));
  });

  afterEach(() => {
    for (const p of procs) p.child.kill('SIGKILL');
    procs = [];
    for (const s of servers) s.close();
    servers = [];
    rmSync(dir, { recursive: true, force: true });
  });

  it('loads the runner bundle before the claim and only then reads the socket path, from the claim', async function () {
    const root = runnerBundleRoot();
    if (!root) this.skip();
    const bundle = join(root!, 'dist', 'agent-runner', 'loki-agent-runner.cjs');
    // A preload that reports when the bundle's entry, its last top-level statement, takes the waiter's hold.
    const marker = join(dir, 'marker.cjs');
    writeFileSync(
      marker,
      'let v; Object.defineProperty(globalThis, Symbol.for("loki.pool.claim"), { set: (x) => { v = x; }, ' +
        'get: () => { process.stderr.write("[marker] bundle evaluated\\n"); return v; } });\n',
    );
    const argv = slotCommand(dir, ['node', bundle], bundle);
    const p = spawnSlot([argv[0]!, argv[1]!, argv[2]!, '--require', marker, ...argv.slice(3)], { LOKI_AGENT_SOCKET: '/nonexistent/env-before-claim.sock' });
    procs.push(p);
    await waitFor('the bundle to be evaluated', () => p.out().includes('[marker] bundle evaluated'));
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(p.out(), /cannot reach|fatal|usage/, 'the runner must not start its session before the claim');
    assert.equal(p.child.exitCode, null);
    const sock = join(dir, 'claimed.sock');
    const reached = connectionOn(sock, servers);
    claim(dir, { LOKI_AGENT_SOCKET: sock, LOKI_SESSION_ID: 's-claimed' });
    // The runner calls the claim's socket, not the one in the env it started with.
    await reached;
    assert.doesNotMatch(p.out(), /env-before-claim/);
  });

  it('holds any other node entry back whole until the claim', async function () {
    const entry = join(dir, 'entry.mjs');
    writeFileSync(entry, 'process.stdout.write(`entry ran with ${process.env.LOKI_SESSION_ID}\\n`);\n');
    const p = spawnSlot(slotCommand(dir, ['node', entry], '/opt/loki/agent-runner.cjs'), {});
    procs.push(p);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(p.out(), '', 'the entry must not run before the claim');
    claim(dir, { LOKI_SESSION_ID: 's-2' });
    assert.equal(await p.exit, 0);
    assert.equal(p.out(), 'entry ran with s-2\n');
  });

  /** The real runner bundle in a slot whose poll is ten minutes: within a test only the signal can release it. */
  async function slowPollingRunner(ctx: Mocha.Context): Promise<Proc> {
    const root = runnerBundleRoot();
    if (!root) ctx.skip();
    const bundle = join(root!, 'dist', 'agent-runner', 'loki-agent-runner.cjs');
    const p = spawnSlot(slotCommand(dir, ['node', bundle], bundle, 600_000), {});
    procs.push(p);
    await waitFor('the waiter to catch SIGUSR2', () => catchesUsr2(p.child.pid!));
    return p;
  }

  it('takes the claim at once on SIGUSR2 (lokid wakes a claimed slot), and a signal before the claim changes nothing', async function () {
    const p = await slowPollingRunner(this);
    p.child.kill('SIGUSR2');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(p.child.exitCode, null, 'a signal without a claim neither ends nor releases the runner');
    assert.doesNotMatch(p.out(), /cannot reach|fatal/);
    const sock = join(dir, 'woken.sock');
    const reached = connectionOn(sock, servers);
    claim(dir, { LOKI_AGENT_SOCKET: sock, LOKI_SESSION_ID: 's-woken' });
    p.child.kill('SIGUSR2');
    // The poll is ten minutes: the runner calling the claim's socket now means the signal released it.
    await reached;
  });

  it('wakeSlot signals only a node process of the named container that catches SIGUSR2', async function () {
    const p = await slowPollingRunner(this);
    claim(dir, { LOKI_AGENT_SOCKET: join(dir, 'never.sock'), LOKI_SESSION_ID: 's-never' });
    // This process is in no container: its cgroup names none, so it is not signalled (and not released).
    assert.equal(wakeSlot(p.child.pid, 'ab'.repeat(32)), false);
    assert.equal(wakeSlot(p.child.pid, 'not-a-container-id'), false);
    assert.equal(wakeSlot(1, 'ab'.repeat(32)), false, 'never the host init');
    // Another node entry keeps SIGUSR2's default (it would end it): its waiter does not catch it.
    const other = spawnSlot(slotCommand(dir + '-none', ['node', join(dir, 'entry.mjs')], '/opt/loki/agent-runner.cjs', 600_000), {});
    procs.push(other);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(catchesUsr2(other.child.pid!), false);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(p.child.exitCode, null);
    assert.doesNotMatch(p.out(), /cannot reach/);
  });
});
