// `loki up`: runs lokid and loki-gateway together for local use with embedded
// defaults (state under $LOKI_HOME, default ~/.loki) and stops both on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { credentials, Metadata } from '@grpc/grpc-js';
import { LokiError, defaultLokiHome, runtimePaths } from '../../../common/src/index.js';
import { HealthClient, HealthCheckResponse_ServingStatus } from '../../../proto/gen/grpc/health/v1/health.js';
import { printLine } from '../output.js';
import type { CliContext } from '../program.js';
import { parsePortOption } from './options.js';

const here = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));

/** node argv for a sibling entry point: compiled `.js`, or `.ts` through tsx when running from source. */
function entry(relJs: string): string[] {
  const js = here(relJs);
  if (existsSync(js)) return [js];
  return ['--import', 'tsx', js.replace(/\.js$/, '.ts')];
}

function waitHealthy(socket: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new LokiError('daemon_unavailable', `lokid exited with code ${child.exitCode} during startup (see its output above)`));
      if (Date.now() > deadline) return reject(new LokiError('daemon_unavailable', `lokid did not become healthy within ${timeoutMs / 1000}s`));
      if (!existsSync(socket)) return void setTimeout(attempt, 100);
      const client = new HealthClient(`unix:${socket}`, credentials.createInsecure());
      client.check({ service: '' }, new Metadata(), { deadline: Date.now() + 1000 }, (err, res) => {
        client.close();
        if (!err && res?.status === HealthCheckResponse_ServingStatus.SERVING) resolve();
        else setTimeout(attempt, 150);
      });
    };
    attempt();
  });
}

async function waitHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new LokiError('unavailable', `loki-gateway exited with code ${child.exitCode} during startup`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new LokiError('unavailable', `loki-gateway did not answer ${url} within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

function stopChild(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export function registerUpCommand(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('run lokid and loki-gateway together (Ctrl-C stops both)')
    .option('--host <host>', 'gateway bind address', '127.0.0.1')
    .option('--port <port>', 'gateway port', parsePortOption, 57374)
    .option('--no-gateway', 'run only the daemon')
    .action(async (o: { host: string; port: number; gateway: boolean }) => {
      const g = ctx.globals();
      const home = g.home ?? defaultLokiHome();
      const paths = runtimePaths(home);
      const env = { ...process.env, LOKI_HOME: home };
      const hadToken = existsSync(paths.cliTokenFile);
      const daemon = spawn(process.execPath, entry('../../../daemon/src/main.js'), { env, stdio: ['ignore', 'inherit', 'inherit'] });
      let gateway: ChildProcess | undefined;
      let shuttingDown = false;
      const shutdown = async (code: number) => {
        if (shuttingDown) return;
        shuttingDown = true;
        printLine('\nstopping loki-gateway and lokid…');
        await stopChild(gateway, 10_000);
        await stopChild(daemon, 15_000);
        process.exit(code);
      };
      process.on('SIGINT', () => void shutdown(0));
      process.on('SIGTERM', () => void shutdown(0));
      daemon.on('exit', (code) => {
        if (!shuttingDown) {
          process.stderr.write(`loki: lokid exited (${code ?? 'signal'}); stopping\n`);
          void shutdown(code || 1);
        }
      });
      try {
        await waitHealthy(paths.adminSocket, daemon, 30_000);
        printLine(`lokid ready (admin socket ${paths.adminSocket})`);
        if (!hadToken && existsSync(paths.cliTokenFile)) {
          const secret = readFileSync(paths.cliTokenFile, 'utf8').trim();
          printLine('\nFirst run: created an admin API token for the gateway.');
          printLine(`Token:   ${secret}`);
          printLine(`Saved to ${paths.cliTokenFile} (mode 0600) for the local CLI.`);
          printLine("IMPORTANT: Save this token - it won't be shown again!\n");
        }
        if (o.gateway) {
          gateway = spawn(process.execPath, [...entry('../../../gateway/src/main.js'), '--host', o.host, '--port', String(o.port)], {
            env: { ...env, LOKI_DAEMON_SOCKET: paths.gatewaySocket },
            stdio: ['ignore', 'inherit', 'inherit'],
          });
          gateway.on('exit', (code) => {
            if (!shuttingDown) {
              process.stderr.write(`loki: loki-gateway exited (${code ?? 'signal'}); stopping\n`);
              void shutdown(code || 1);
            }
          });
          const url = `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
          await waitHttp(`${url}/healthz/live`, gateway, 30_000);
          printLine(`loki-gateway ready at ${url}`);
        }
        printLine('Loki is up. Press Ctrl-C to stop.');
      } catch (err) {
        await stopChild(gateway, 5000);
        await stopChild(daemon, 5000);
        throw err;
      }
      await new Promise(() => undefined);
    });
}
