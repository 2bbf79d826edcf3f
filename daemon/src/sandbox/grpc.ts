// gRPC adapter for SandboxService: converts wire messages to domain calls and back.
import type { ServerDuplexStream } from '@grpc/grpc-js';
import { LokiError, type Logger } from '../../../common/src/index.js';
import {
  OutputStream,
  SandboxServiceService,
  type BuildImageRequest,
  type BuildProgress,
  type ExecRequest,
  type ExecResponse,
  type LogChunk,
  type Sandbox,
} from '../../../proto/gen/loki/v1/sandbox.js';
import type { SandboxManager } from './manager.js';
import { DEFAULT_CLAUDE_CODE_VERSION, type ImageBuildEvent, type SandboxInfo } from './types.js';
import { requireScope } from '../authz/caller.js';
import type { ServiceModule } from '../grpc/module.js';
import { enumToWire, sandboxStateCodec } from '../grpc/vocab.js';
import { bidiStream, serverStream, unary, writeMessage } from '../grpc/wrap.js';

export interface SandboxModuleDeps {
  manager: SandboxManager;
  /** Builds (or reuses) the base image, reporting progress. */
  build: (req: { tag: string; force: boolean; claudeVersion?: string }, onEvent: (e: ImageBuildEvent) => void, signal: AbortSignal) => Promise<void>;
  log: Logger;
}

export function toSandboxMessage(s: SandboxInfo): Sandbox {
  return {
    id: s.id,
    name: s.name,
    owner: s.owner,
    project: s.project,
    state: enumToWire(sandboxStateCodec, s.state),
    legacyState: s.state,
    image: s.image,
    containerId: s.containerId,
    createdAtMs: s.createdAtMs,
    workspace: s.workspace,
    exitCode: s.exitCode,
    session: s.session,
    hardening: { ...s.hardening },
  };
}

const MAX_STDIN_CHUNK = 1024 * 1024;

export function createSandboxModule(deps: SandboxModuleDeps): ServiceModule {
  const { manager } = deps;
  return {
    name: 'loki.v1.SandboxService',
    roles: ['local-admin', 'gateway'],
    register(server, ctx) {
      server.addService(SandboxServiceService, {
        build: serverStream<BuildImageRequest, BuildProgress>(ctx, 'Sandbox.Build', async (req, caller, call, signal) => {
          requireScope(caller, '*');
          if (req.tag && !/^[a-z0-9][a-z0-9._/-]{0,127}(:[A-Za-z0-9_.-]{1,128})?$/.test(req.tag)) {
            throw new LokiError('invalid_argument', `tag "${req.tag.slice(0, 64)}" is not a valid image tag`);
          }
          const pending: Promise<void>[] = [];
          if (req.claudeVersion && !req.withClaude) throw new LokiError('invalid_argument', 'claude_version needs with_claude');
          if (req.claudeVersion && !/^[0-9A-Za-z.+-]{1,64}$/.test(req.claudeVersion)) {
            throw new LokiError('invalid_argument', `claude_version "${req.claudeVersion.slice(0, 64)}" is not a valid npm version or tag`);
          }
          const claude = req.withClaude ? { claudeVersion: req.claudeVersion || DEFAULT_CLAUDE_CODE_VERSION } : {};
          await deps.build({ tag: req.tag, force: req.force, ...claude }, (e) => {
            pending.push(writeMessage(call, { phase: e.phase, message: e.message, percent: e.percent, imageId: e.imageId ?? '', reused: e.reused ?? false }));
          }, signal);
          await Promise.all(pending);
        }),
        start: unary(ctx, 'Sandbox.Start', async (req, caller) => {
          const info = await manager.start(caller, {
            name: req.name,
            project: req.project,
            image: req.image,
            command: req.command,
            env: req.env,
            limits: { memoryBytes: req.limits?.memoryBytes ?? 0, cpus: req.limits?.cpus ?? 0, pids: req.limits?.pids ?? 0 },
            relax: { network: !!req.relax?.network, writableRootfs: !!req.relax?.writableRootfs, rootUser: !!req.relax?.rootUser },
          });
          return { sandbox: toSandboxMessage(info) };
        }),
        status: unary(ctx, 'Sandbox.Status', async (req, caller) => toSandboxMessage(await manager.get(caller, req.id))),
        list: unary(ctx, 'Sandbox.List', async (req, caller) => ({ sandboxes: (await manager.list(caller, req.all)).map(toSandboxMessage) })),
        logs: serverStream<{ id: string; follow: boolean; tail: number; timestamps: boolean }, LogChunk>(ctx, 'Sandbox.Logs', async (req, caller, call, signal) => {
          for await (const chunk of manager.logs(caller, req.id, { follow: req.follow, tail: req.tail, timestamps: req.timestamps }, signal)) {
            await writeMessage(call, { stream: chunk.stream === 'stderr' ? OutputStream.OUTPUT_STREAM_STDERR : OutputStream.OUTPUT_STREAM_STDOUT, data: chunk.data });
          }
        }),
        exec: bidiStream<ExecRequest, ExecResponse>(ctx, 'Sandbox.Exec', (caller, call, signal) => runExec(manager, caller, call, signal)),
        stop: unary(ctx, 'Sandbox.Stop', async (req, caller) => {
          const r = await manager.stop(caller, req.id, req.timeoutSeconds, req.keep);
          return { sandbox: toSandboxMessage(r.info), removed: r.removed };
        }),
        remove: unary(ctx, 'Sandbox.Remove', async (req, caller) => {
          await manager.remove(caller, req.id, req.force);
          return {};
        }),
      });
    },
  };
}

/** Client messages held before the stream is paused (HTTP/2 flow control then holds the sender). */
const MAX_QUEUED_MESSAGES = 16;

/**
 * Buffers client messages from the first moment so nothing sent before the exec starts
 * is lost, but only a few: a client that sends stdin faster than the process reads it
 * (or a process that never reads it) is paused, not buffered for. Unpaused, 400 MiB
 * sent to `sleep` grew lokid by 437 MB.
 */
function inbox(call: ServerDuplexStream<ExecRequest, ExecResponse>, signal: AbortSignal) {
  const queue: ExecRequest[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  call.on('data', (m: ExecRequest) => {
    queue.push(m);
    if (queue.length >= MAX_QUEUED_MESSAGES) call.pause();
    wake?.();
  });
  call.on('end', () => {
    ended = true;
    wake?.();
  });
  signal.addEventListener('abort', () => wake?.(), { once: true });
  return {
    async next(): Promise<ExecRequest | undefined> {
      while (!queue.length && !ended && !signal.aborted) await new Promise<void>((r) => (wake = r));
      wake = undefined;
      const m = queue.shift();
      if (queue.length < MAX_QUEUED_MESSAGES && call.isPaused()) call.resume();
      return m;
    },
  };
}

async function runExec(manager: SandboxManager, caller: Parameters<SandboxManager['exec']>[0], call: ServerDuplexStream<ExecRequest, ExecResponse>, signal: AbortSignal): Promise<void> {
  const box = inbox(call, signal);
  const first = await box.next();
  if (!first) throw new LokiError('invalid_argument', 'the exec stream ended before a start message');
  if (first.msg?.$case !== 'start') throw new LokiError('invalid_argument', 'the first exec message must be `start`');
  const s = first.msg.start;
  const { session } = await manager.exec(caller, s.id, { argv: s.argv, tty: s.tty, cols: s.cols, rows: s.rows, env: s.env, workdir: s.workdir });
  const onAbort = () => session.kill();
  signal.addEventListener('abort', onAbort, { once: true });
  const pump = async () => {
    for (let m = await box.next(); m; m = await box.next()) await handle(m);
    session.closeStdin();
  };
  const handle = async (m: ExecRequest): Promise<void> => {
    switch (m.msg?.$case) {
      case 'stdin':
        if (m.msg.stdin.length > MAX_STDIN_CHUNK) return;
        // Waits while the process's stdin is full: the next message is not taken meanwhile.
        await session.write(m.msg.stdin);
        break;
      case 'resize':
        void session.resize(m.msg.resize.cols, m.msg.resize.rows);
        break;
      case 'closeStdin':
        if (m.msg.closeStdin) session.closeStdin();
        break;
      default:
        break;
    }
  };
  void pump();
  try {
    for await (const chunk of session.output) {
      await writeMessage<ExecResponse>(call, chunk.stream === 'stderr' ? { msg: { $case: 'stderr', stderr: chunk.data } } : { msg: { $case: 'stdout', stdout: chunk.data } });
    }
    const code = await session.exitCode();
    await writeMessage<ExecResponse>(call, { msg: { $case: 'exitCode', exitCode: code } });
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
