// `loki sandbox …` — hardened sandbox containers through the LokiClient.
import type { Command } from 'commander';
import { LokiError } from '../../../common/src/index.js';
import type { ExecSession, LokiClient, Sandbox } from '../../../client/src/index.js';
import { requireLocal, withClient, type CliContext } from '../context.js';
import { resolveId } from '../ids.js';
import { formatBytes, formatTime, printJson, printLine, printTable } from '../output.js';
import { jsonMode, parseIntOption, parsePositiveIntOption, parseSize } from './options.js';

/** The sandbox named by id, name or unique prefix; none named = the only running one. */
async function sandboxId(c: LokiClient, id: string | undefined): Promise<string> {
  if (id) return resolveId('sandbox', id, async () => c.sandboxes.list({ all: true }));
  const running = await c.sandboxes.list();
  if (running.length === 1) return running[0]!.id;
  if (running.length === 0) throw new LokiError('sandbox_not_found', 'no running sandbox; start one with `loki sandbox start`');
  throw new LokiError('invalid_argument', `${running.length} sandboxes are running; name one (see \`loki sandbox list\`)`);
}

function printStatus(s: Sandbox): void {
  printLine(`ID:        ${s.id}\nName:      ${s.name}\nState:     ${s.state}\nOwner:     ${s.owner}\nProject:   ${s.project || '-'}\nImage:     ${s.image}\nCreated:   ${formatTime(s.created_at)}\nWorkspace: ${s.workspace}`);
  const h = s.hardening;
  if (h) {
    printLine(
      `Hardening: user ${h.user}, ${h.read_only_rootfs ? 'read-only root' : 'WRITABLE root'}, cap-drop ${h.cap_drop.join(',')}, ${h.no_new_privileges ? 'no-new-privileges' : 'new privileges allowed'}, seccomp ${h.seccomp_profile}, network ${h.network_mode}, memory ${formatBytes(h.memory_bytes)}, cpus ${h.cpus}, pids ${h.pids}`,
    );
  }
}

export function registerSandboxCommands(program: Command, ctx: CliContext): void {
  const sb = program.command('sandbox').description('hardened sandbox containers').enablePositionalOptions();

  sb.command('build')
    .description("build the sandbox base image offline (debootstrap + node), or reuse it (on the daemon's host only)")
    .option('--tag <tag>', 'image tag (default: the configured base image)')
    .option('--force', 'rebuild even when the image exists')
    .option('--with-claude', 'also install Claude Code (for --provider claude sessions); default tag: the sessions.claude_image')
    .option('--claude-version <version>', 'npm version or tag of @anthropic-ai/claude-code (with --with-claude)')
    .action(async (o: { tag?: string; force?: boolean; withClaude?: boolean; claudeVersion?: string }) => {
      requireLocal(ctx, '`loki sandbox build`');
      await withClient(ctx, async (c) => {
        const tty = process.stderr.isTTY;
        const build = c.sandboxes.build({ ...(o.tag ? { tag: o.tag } : {}), force: !!o.force, with_claude: !!o.withClaude, ...(o.claudeVersion ? { claude_version: o.claudeVersion } : {}) });
        for await (const p of build) {
          const line = `[${String(p.percent).padStart(3)}%] ${p.phase}: ${p.message}`;
          if (tty && p.phase === 'bootstrap') process.stderr.write(`\r\x1b[K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
          else process.stderr.write(`${tty ? '\r\x1b[K' : ''}${line}\n`);
          if (p.phase === 'done') printLine(p.image_id);
        }
      });
    });

  sb.command('start')
    .description('start a hardened sandbox')
    .option('--name <name>', 'unique name')
    .option('--project <project>', 'project label')
    .option('--image <image>', 'image (default: the configured base image)')
    .option('--memory <size>', 'memory limit, e.g. 512m or 2g (≤ the daemon ceiling)', parseSize)
    .option('--cpus <n>', 'CPU limit (≤ the daemon ceiling)', Number)
    .option('--pids <n>', 'process limit (≤ the daemon ceiling)', parsePositiveIntOption)
    .option('--allow-network', 'relax: bridge network (needs sandbox.allow.network in the daemon config)')
    .option('--writable-rootfs', 'relax: writable root filesystem (needs sandbox.allow.writable_rootfs)')
    .option('--root', 'relax: run as root in the container (needs sandbox.allow.root_user)')
    .option('-e, --env <KEY=VALUE...>', 'environment variables')
    .option('--json', 'print JSON')
    .argument('[command...]', 'main process (default: an idle shell loop)')
    .passThroughOptions()
    .action(async (command: string[], o: Record<string, unknown>) => {
      const env: Record<string, string> = {};
      for (const kv of (o.env as string[] | undefined) ?? []) {
        const i = kv.indexOf('=');
        if (i <= 0) throw new LokiError('invalid_argument', `--env expects KEY=VALUE, got ${JSON.stringify(kv)}`);
        env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      if (o.cpus !== undefined && !(Number(o.cpus) > 0)) throw new LokiError('invalid_argument', '--cpus must be a positive number');
      const s = await withClient(ctx, (c) =>
        c.sandboxes.start({
          ...(o.name ? { name: o.name as string } : {}),
          ...(o.project ? { project: o.project as string } : {}),
          ...(o.image ? { image: o.image as string } : {}),
          command,
          env,
          limits: { memory_bytes: (o.memory as number) ?? 0, cpus: (o.cpus as number) ?? 0, pids: (o.pids as number) ?? 0 },
          relax: { network: !!o.allowNetwork, writable_rootfs: !!o.writableRootfs, root_user: !!o.root },
        }),
      );
      if (jsonMode(ctx, o)) printJson(s);
      else printLine(`${s.id} (${s.name}) ${s.state}`);
    });

  sb.command('status')
    .description('show one sandbox (default: the only running one)')
    .argument('[id]', 'sandbox id, name or unique prefix')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, o: { json?: boolean }) => {
      const s = await withClient(ctx, async (c) => c.sandboxes.status(await sandboxId(c, id)));
      if (jsonMode(ctx, o)) return printJson(s);
      printStatus(s);
    });

  sb.command('list')
    .alias('ls')
    .description('list sandboxes')
    .option('-a, --all', 'include stopped sandboxes')
    .option('--json', 'print JSON')
    .action(async (o: { all?: boolean; json?: boolean }) => {
      const rows = await withClient(ctx, (c) => c.sandboxes.list({ all: !!o.all }));
      if (jsonMode(ctx, o)) return printJson({ sandboxes: rows });
      if (!rows.length) return printLine(o.all ? 'no sandboxes' : 'no running sandboxes (--all shows stopped ones)');
      printTable(['ID', 'NAME', 'STATE', 'OWNER', 'PROJECT', 'CREATED'], rows.map((s) => [s.id, s.name, s.state, s.owner, s.project || '-', formatTime(s.created_at)]));
    });

  sb.command('logs')
    .description("print a sandbox's output")
    .argument('[id]', 'sandbox id, name or unique prefix')
    .option('-f, --follow', 'keep streaming new output')
    .option('-n, --tail <n>', 'only the last N lines', parsePositiveIntOption)
    .option('-t, --timestamps', 'prefix timestamps')
    .action(async (id: string | undefined, o: { follow?: boolean; tail?: number; timestamps?: boolean }) => {
      await withClient(ctx, async (c) => {
        const target = await sandboxId(c, id);
        for await (const chunk of c.sandboxes.logs(target, { follow: !!o.follow, tail: o.tail ?? 0, timestamps: !!o.timestamps })) {
          (chunk.stream === 'stderr' ? process.stderr : process.stdout).write(chunk.data);
        }
      });
    });

  const execAction = (interactiveDefault: boolean) => async (id: string | undefined, rest: string[], o: { tty?: boolean; workdir?: string }) => {
    // `--` is no longer needed, and still accepted: options after the id pass through to the command.
    const argv = rest[0] === '--' ? rest.slice(1) : rest;
    const code = await withClient(ctx, async (c) => {
      const target = await sandboxId(c, id);
      const tty = o.tty ?? (interactiveDefault && process.stdin.isTTY === true);
      const session = await c.sandboxes.exec(target, {
        argv,
        tty,
        cols: process.stdout.columns ?? 80,
        rows: process.stdout.rows ?? 24,
        env: tty ? { TERM: process.env.TERM ?? 'xterm-256color' } : {},
        ...(o.workdir ? { workdir: o.workdir } : {}),
      });
      return pipeExec(session, tty);
    });
    process.exitCode = code;
  };

  // Everything after the sandbox id belongs to the command (`loki sandbox exec ID sh -c '…'`, no `--` needed).
  sb.command('shell')
    .description('open an interactive shell (or run a command) in a sandbox; exits with its exit code')
    .argument('[id]', 'sandbox id, name or unique prefix')
    .argument('[command...]', 'command to run instead of a login shell')
    .option('--tty', 'allocate a terminal (default when stdin is a terminal)')
    .option('--no-tty', 'no terminal')
    .option('-w, --workdir <dir>', 'working directory (default /workspace)')
    .passThroughOptions()
    .action(execAction(true));

  sb.command('exec')
    .description('run a command in a sandbox; exits with its exit code')
    .argument('<id>', 'sandbox id, name or unique prefix')
    .argument('<command...>', 'command and arguments')
    .option('--tty', 'allocate a terminal')
    .option('-w, --workdir <dir>', 'working directory (default /workspace)')
    .passThroughOptions()
    .action(execAction(false));

  sb.command('stop')
    .description('stop a sandbox (SIGTERM, then SIGKILL after the grace period) and remove it')
    .argument('[id]', 'sandbox id, name or unique prefix')
    .option('-t, --timeout <seconds>', 'grace period before SIGKILL', parseIntOption)
    .option('--keep', 'keep the stopped container (remove later with `loki sandbox rm`)')
    .option('--json', 'print JSON')
    .action(async (id: string | undefined, o: { timeout?: number; keep?: boolean; json?: boolean }) => {
      const r = await withClient(ctx, async (c) => c.sandboxes.stop(await sandboxId(c, id), { timeout_seconds: o.timeout ?? 0, keep: !!o.keep }));
      if (jsonMode(ctx, o)) printJson(r);
      else printLine(`${r.sandbox.id} stopped${r.removed ? ' and removed' : ''}`);
    });

  sb.command('rm')
    .description('remove a stopped sandbox')
    .argument('<id>', 'sandbox id, name or unique prefix')
    .option('-f, --force', 'remove even if running')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { force?: boolean; json?: boolean }) => {
      const full = await withClient(ctx, async (c) => {
        const target = await sandboxId(c, id);
        await c.sandboxes.remove(target, { force: !!o.force });
        return target;
      });
      if (jsonMode(ctx, o)) printJson({ removed: true, id: full });
      else printLine(`${full} removed`);
    });
}

/** Wires the terminal to a running exec: stdin up, output down, resize; resolves with the exit code. */
async function pipeExec(session: ExecSession, tty: boolean): Promise<number> {
  const stdin = process.stdin;
  const rawWas = stdin.isTTY ? stdin.isRaw : false;
  const onStdin = (d: Buffer) => session.write(d);
  const onResize = () => session.resize(process.stdout.columns ?? 80, process.stdout.rows ?? 24);
  const onEnd = () => session.closeStdin();
  if (tty && stdin.isTTY) stdin.setRawMode(true);
  stdin.on('data', onStdin);
  stdin.once('end', onEnd);
  process.stdout.on('resize', onResize);
  try {
    for await (const m of session) {
      if (m.stream === 'exit') return m.exit_code;
      (m.stream === 'stderr' ? process.stderr : process.stdout).write(m.data);
    }
    throw new LokiError('internal', 'the exec stream ended without an exit code');
  } finally {
    if (stdin.isTTY && tty) stdin.setRawMode(rawWas);
    stdin.off('data', onStdin);
    stdin.off('end', onEnd);
    stdin.pause();
    process.stdout.off('resize', onResize);
  }
}
