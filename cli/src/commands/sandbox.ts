// `loki sandbox …` — hardened sandbox containers through the daemon's admin socket.
import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import {
  OutputStream,
  SandboxServiceClient,
  type BuildProgress,
  type ExecRequest,
  type ExecResponse,
  type LogChunk,
  type Sandbox,
} from '../../../proto/gen/loki/v1/sandbox.js';
import { call, connectDaemon, fromServiceError, type DaemonConnection } from '../client.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import type { CliContext } from '../program.js';
import { parseIntOption, parsePositiveIntOption, parseSize } from './options.js';

function sandboxDto(s: Sandbox) {
  return {
    id: s.id,
    name: s.name,
    state: s.state,
    owner: s.owner,
    project: s.project,
    session: s.session,
    image: s.image,
    created_at: formatTime(s.createdAtMs),
    workspace: s.workspace,
    exit_code: s.exitCode,
    hardening: s.hardening,
  };
}

async function withClient<T>(ctx: CliContext, f: (c: InstanceType<typeof SandboxServiceClient>, conn: DaemonConnection) => Promise<T>): Promise<T> {
  const conn = connectDaemon(ctx.globals());
  try {
    return await f(conn.get(SandboxServiceClient), conn);
  } finally {
    conn.close();
  }
}

/** The default sandbox when none is named: the only running one. */
async function resolveDefault(c: InstanceType<typeof SandboxServiceClient>, conn: DaemonConnection, id: string | undefined): Promise<string> {
  if (id) return id;
  const res = await call(conn, c.list.bind(c), { all: false });
  if (res.sandboxes.length === 1) return res.sandboxes[0]!.id;
  if (res.sandboxes.length === 0) throw new LokiError('sandbox_not_found', 'no running sandbox; start one with `loki sandbox start`');
  throw new LokiError('invalid_argument', `${res.sandboxes.length} sandboxes are running; name one (see \`loki sandbox list\`)`);
}

export function registerSandboxCommands(program: Command, ctx: CliContext): void {
  const sb = program.command('sandbox').description('hardened sandbox containers');

  sb.command('build')
    .description('build the sandbox base image offline (debootstrap + node), or reuse it')
    .option('--tag <tag>', 'image tag (default: the configured base image)')
    .option('--force', 'rebuild even when the image exists')
    .option('--with-claude', 'also install Claude Code (for --provider claude sessions); default tag: the sessions.claude_image')
    .option('--claude-version <version>', 'npm version or tag of @anthropic-ai/claude-code (with --with-claude)')
    .action(async (o: { tag?: string; force?: boolean; withClaude?: boolean; claudeVersion?: string }) => {
      await withClient(ctx, (c, conn) =>
        new Promise<void>((resolve, reject) => {
          const stream = c.build({ tag: o.tag ?? '', force: !!o.force, withClaude: !!o.withClaude, claudeVersion: o.claudeVersion ?? '' }, conn.metadata());
          const tty = process.stderr.isTTY;
          stream.on('data', (p: BuildProgress) => {
            const line = `[${String(p.percent).padStart(3)}%] ${p.phase}: ${p.message}`;
            if (tty && p.phase === 'bootstrap') process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
            else process.stderr.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
            if (p.phase === 'done') printLine(p.imageId);
          });
          stream.on('error', (err) => reject(fromServiceError(err, conn.socket)));
          stream.on('end', () => resolve());
        }),
      );
    });

  sb.command('start')
    .description('start a hardened sandbox')
    .option('--name <name>', 'unique name')
    .option('--project <project>', 'project label')
    .option('--image <image>', 'image (default: the configured base image)')
    .option('--memory <size>', 'memory limit, e.g. 512m (≤ the daemon ceiling)', parseSize)
    .option('--cpus <n>', 'CPU limit (≤ the daemon ceiling)', Number)
    .option('--pids <n>', 'process limit (≤ the daemon ceiling)', parsePositiveIntOption)
    .option('--allow-network', 'relax: bridge network (needs sandbox.allow.network in the daemon config)')
    .option('--writable-rootfs', 'relax: writable root filesystem (needs sandbox.allow.writable_rootfs)')
    .option('--root', 'relax: run as root in the container (needs sandbox.allow.root_user)')
    .option('-e, --env <KEY=VALUE...>', 'environment variables')
    .option('--json', 'print JSON')
    .argument('[command...]', 'main process (default: an idle shell loop)')
    .action(async (command: string[], o: Record<string, unknown>) => {
      const env: Record<string, string> = {};
      for (const kv of (o.env as string[] | undefined) ?? []) {
        const i = kv.indexOf('=');
        if (i <= 0) throw new LokiError('invalid_argument', `--env expects KEY=VALUE, got ${JSON.stringify(kv)}`);
        env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      if (o.cpus !== undefined && !(Number(o.cpus) > 0)) throw new LokiError('invalid_argument', '--cpus must be a positive number');
      const res = await withClient(ctx, (c, conn) =>
        call(conn, c.start.bind(c), {
          name: (o.name as string) ?? '',
          project: (o.project as string) ?? '',
          image: (o.image as string) ?? '',
          command,
          env,
          limits: { memoryBytes: (o.memory as number) ?? 0, cpus: (o.cpus as number) ?? 0, pids: (o.pids as number) ?? 0 },
          relax: { network: !!o.allowNetwork, writableRootfs: !!o.writableRootfs, rootUser: !!o.root },
        }, 120_000),
      );
      const s = res.sandbox!;
      if (o.json) printJson(sandboxDto(s));
      else printLine(`${s.id} (${s.name}) ${s.state}`);
    });

  sb.command('status')
    .description('show one sandbox (default: the only running one)')
    .argument('[id]', 'sandbox id or name')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, o: { json?: boolean }) => {
      const s = await withClient(ctx, async (c, conn) => call(conn, c.status.bind(c), { id: await resolveDefault(c, conn, id) }));
      if (o.json) return printJson(sandboxDto(s));
      const h = s.hardening!;
      printLine(`ID:        ${s.id}\nName:      ${s.name}\nState:     ${s.state}\nOwner:     ${s.owner}\nProject:   ${s.project || '-'}\nImage:     ${s.image}\nCreated:   ${formatTime(s.createdAtMs)}\nWorkspace: ${s.workspace}`);
      printLine(`Hardening: user ${h.user}, ${h.readOnlyRootfs ? 'read-only root' : 'WRITABLE root'}, cap-drop ${h.capDrop.join(',')}, ${h.noNewPrivileges ? 'no-new-privileges' : ''}, seccomp ${h.seccompProfile}, network ${h.networkMode}, memory ${h.memoryBytes}, cpus ${h.cpus}, pids ${h.pids}`);
    });

  sb.command('list')
    .alias('ls')
    .description('list sandboxes')
    .option('-a, --all', 'include stopped sandboxes')
    .option('--json', 'print JSON')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const res = await withClient(ctx, (c, conn) => call(conn, c.list.bind(c), { all: !!o.all }));
      if (o.json) return printJson(res.sandboxes.map(sandboxDto));
      printTable(['ID', 'NAME', 'STATE', 'OWNER', 'PROJECT', 'CREATED'], res.sandboxes.map((s) => [s.id, s.name, s.state, s.owner, s.project || '-', formatTime(s.createdAtMs)]));
    });

  sb.command('logs')
    .description("print a sandbox's output")
    .argument('[id]', 'sandbox id or name')
    .option('-f, --follow', 'keep streaming new output')
    .option('-n, --tail <n>', 'only the last N lines', parsePositiveIntOption)
    .option('-t, --timestamps', 'prefix timestamps')
    .action(async (id: string | undefined, o: { follow?: boolean; tail?: number; timestamps?: boolean }) => {
      await withClient(ctx, async (c, conn) => {
        const target = await resolveDefault(c, conn, id);
        await new Promise<void>((resolve, reject) => {
          const stream = c.logs({ id: target, follow: !!o.follow, tail: o.tail ?? 0, timestamps: !!o.timestamps }, conn.metadata());
          stream.on('data', (chunk: LogChunk) => (chunk.stream === OutputStream.OUTPUT_STREAM_STDERR ? process.stderr : process.stdout).write(chunk.data));
          stream.on('error', (err: { code?: number }) => (err.code === 1 ? resolve() : reject(fromServiceError(err, conn.socket))));
          stream.on('end', resolve);
          process.once('SIGINT', () => stream.cancel());
        });
      });
    });

  const execAction = (interactiveDefault: boolean) => async (id: string | undefined, argv: string[], o: { tty?: boolean; workdir?: string }) => {
    const code = await withClient(ctx, async (c, conn) => runExec(c, conn, await resolveDefault(c, conn, id), argv, o.tty ?? (interactiveDefault && process.stdin.isTTY === true), o.workdir ?? ''));
    process.exitCode = code;
  };

  sb.command('shell')
    .description('open an interactive shell (or run a command) in a sandbox; exits with its exit code')
    .argument('[id]', 'sandbox id or name')
    .argument('[command...]', 'command to run instead of a login shell')
    .option('--tty', 'allocate a terminal (default when stdin is a terminal)')
    .option('--no-tty', 'no terminal')
    .option('-w, --workdir <dir>', 'working directory (default /workspace)')
    .action(execAction(true));

  sb.command('exec')
    .description('run a command in a sandbox; exits with its exit code')
    .argument('<id>', 'sandbox id or name')
    .argument('<command...>', 'command and arguments')
    .option('--tty', 'allocate a terminal')
    .option('-w, --workdir <dir>', 'working directory (default /workspace)')
    .action(execAction(false));

  sb.command('stop')
    .description('stop a sandbox (SIGTERM, then SIGKILL after the grace period) and remove it')
    .argument('[id]', 'sandbox id or name')
    .option('-t, --timeout <seconds>', 'grace period before SIGKILL', parseIntOption)
    .option('--keep', 'keep the stopped container (remove later with `loki sandbox rm`)')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, o: { timeout?: number; keep?: boolean; json?: boolean }) => {
      const res = await withClient(ctx, async (c, conn) => call(conn, c.stop.bind(c), { id: await resolveDefault(c, conn, id), timeoutSeconds: o.timeout ?? 0, keep: !!o.keep }, 3_700_000));
      if (o.json) printJson({ ...sandboxDto(res.sandbox!), removed: res.removed });
      else printLine(`${res.sandbox!.id} stopped${res.removed ? ' and removed' : ''}`);
    });

  sb.command('rm')
    .description('remove a stopped sandbox')
    .argument('<id>', 'sandbox id or name')
    .option('-f, --force', 'remove even if running')
    .action(async (id: string, o: { force?: boolean }) => {
      await withClient(ctx, (c, conn) => call(conn, c.remove.bind(c), { id, force: !!o.force }));
      printLine(`${id} removed`);
    });
}

function runExec(c: InstanceType<typeof SandboxServiceClient>, conn: DaemonConnection, id: string, argv: string[], tty: boolean, workdir: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = c.exec(conn.metadata());
    let exitCode: number | undefined;
    const stdin = process.stdin;
    const rawWas = stdin.isTTY ? stdin.isRaw : false;
    const restore = () => {
      if (stdin.isTTY && tty) stdin.setRawMode(rawWas);
      stdin.pause();
      stdin.off('data', onStdin);
      process.stdout.off('resize', onResize);
    };
    const onStdin = (d: Buffer) => stream.write({ msg: { $case: 'stdin', stdin: d } } satisfies ExecRequest);
    const onResize = () => stream.write({ msg: { $case: 'resize', resize: { cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24 } } } satisfies ExecRequest);
    stream.write({
      msg: { $case: 'start', start: { id, argv, tty, cols: process.stdout.columns ?? 80, rows: process.stdout.rows ?? 24, env: tty ? { TERM: process.env.TERM ?? 'xterm-256color' } : {}, workdir } },
    } satisfies ExecRequest);
    if (tty && stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', onStdin);
    stdin.once('end', () => stream.write({ msg: { $case: 'closeStdin', closeStdin: true } } satisfies ExecRequest));
    process.stdout.on('resize', onResize);
    stream.on('data', (m: ExecResponse) => {
      switch (m.msg?.$case) {
        case 'stdout':
          process.stdout.write(m.msg.stdout);
          break;
        case 'stderr':
          process.stderr.write(m.msg.stderr);
          break;
        case 'exitCode':
          exitCode = m.msg.exitCode;
          break;
        default:
          break;
      }
    });
    stream.on('error', (err) => {
      restore();
      reject(fromServiceError(err, conn.socket));
    });
    stream.on('end', () => {
      restore();
      if (exitCode === undefined) reject(new LokiError('internal', 'the exec stream ended without an exit code'));
      else resolve(exitCode);
    });
  });
}
