// Path decisions for file reads/writes/deletes and shell redirections. The
// sandbox mounts only the allowed paths writable, so the mount is the hard
// boundary; this check exists to give the agent a readable reason first.
//
// Paths are resolved in the sandbox's namespace: `..` and duplicate slashes
// lexically, `/proc/self/root` and `/proc/<pid>/{root,cwd}` by what they alias,
// configured bind-mount aliases by prefix, and symlinks by reading them — but
// only inside the workspace, the one part of the sandbox filesystem the daemon
// can see (through its host path). A symlink the agent created pointing
// outside therefore resolves outside and is denied, dangling or not.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';
import { LokiError } from '../../../common/src/index.js';

export type PathOp = 'read' | 'write' | 'delete';

export interface PathPolicyOptions {
  /** Writable roots (sandbox paths); empty = the workspace only. */
  allowedPaths: readonly string[];
  /** Always writable scratch space (e.g. /tmp). */
  scratchPaths: readonly string[];
  /** Path segment sequences never writable, even inside allowed paths (`.git/hooks`). */
  protectedPaths: readonly string[];
  /** Bind-mount aliases: a path under `from` is the same file as under `to`. */
  aliases: readonly { from: string; to: string }[];
}

export interface PathContext {
  /** The workspace as the agent sees it (e.g. /workspace). */
  workspace: string;
  /** Where that workspace lives on this machine; symlinks are read through it. Absent = not inspected. */
  hostWorkspace?: string;
  /** Working directory for relative paths (default: the workspace). */
  cwd?: string;
  /** $HOME inside the sandbox, for `~` (default /root). */
  home?: string;
}

export interface PathVerdict {
  decision: 'allow' | 'deny';
  rule: string;
  reason: string;
  resolved: string;
}

const SAFE_DEVICES = new Set(['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/stdout', '/dev/stderr', '/dev/stdin', '/dev/tty']);
const MAX_LINKS = 40;

function under(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(root.endsWith('/') ? root : root + '/');
}

function clean(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export class PathPolicy {
  private readonly protectedSegs: string[][];
  constructor(private readonly opts: PathPolicyOptions) {
    this.protectedSegs = opts.protectedPaths.map((p) => clean(p).replace(/^\/+/, '').toLowerCase().split('/'));
  }

  /** Lexical + alias + symlink resolution in the sandbox's namespace. */
  resolve(raw: string, ctx: PathContext): string {
    if (raw === '' || raw.includes('\0')) throw new LokiError('invalid_argument', 'the path is empty or contains a NUL byte');
    const cwd = ctx.cwd ?? ctx.workspace;
    const home = ctx.home ?? '/root';
    let p = raw === '~' || raw.startsWith('~/') ? home + raw.slice(1) : raw.startsWith('/') ? raw : `${cwd}/${raw}`;
    p = this.unalias(clean(p), cwd);
    for (let hops = 0; hops <= MAX_LINKS; hops++) {
      const next = this.followOne(p, ctx, cwd);
      if (next === undefined) return p;
      p = next;
    }
    // A symlink loop never reaches a file; treat it as the unknowable path it is.
    return '/proc/symlink-loop';
  }

  private unalias(p: string, cwd: string): string {
    for (let i = 0; i < 8; i++) {
      const m = /^\/proc\/(?:self|thread-self|\d+)\/(root|cwd)(\/.*)?$/.exec(p);
      let next = p;
      if (m) next = clean((m[1] === 'root' ? '/' : cwd + '/') + (m[2] ?? ''));
      for (const a of this.opts.aliases) {
        const from = clean(a.from);
        if (under(next, from)) next = clean(clean(a.to) + next.slice(from.length));
      }
      if (next === p) return p;
      p = next;
    }
    return p;
  }

  /** Finds the first symlink on the path (inside the inspectable workspace) and returns the path through it. */
  private followOne(p: string, ctx: PathContext, cwd: string): string | undefined {
    if (!ctx.hostWorkspace) return undefined;
    const ws = clean(ctx.workspace);
    if (!under(p, ws)) return undefined;
    const host = clean(ctx.hostWorkspace);
    const rel = p === ws ? [] : p.slice(ws === '/' ? 1 : ws.length + 1).split('/');
    let cur = ws;
    for (let i = 0; i < rel.length; i++) {
      const seg = rel[i]!;
      const next = cur === '/' ? `/${seg}` : `${cur}/${seg}`;
      const hostPath = host + next.slice(ws.length);
      let isLink = false;
      try {
        isLink = lstatSync(hostPath).isSymbolicLink();
      } catch {
        return undefined; // the rest does not exist yet: nothing further to follow
      }
      if (isLink) {
        const target = readlinkSync(hostPath);
        const base = target.startsWith('/') ? target : `${cur}/${target}`;
        return this.unalias(clean([base, ...rel.slice(i + 1)].join('/')), cwd);
      }
      cur = next;
    }
    return undefined;
  }

  check(op: PathOp, raw: string, ctx: PathContext): PathVerdict {
    const resolved = this.resolve(raw, ctx);
    if (op === 'read') return { decision: 'allow', rule: 'paths:read', reason: 'reads are not restricted by path', resolved };
    if (SAFE_DEVICES.has(resolved) || under(resolved, '/dev/fd')) return { decision: 'allow', rule: 'paths:safe-device', reason: `${resolved} is a harmless device`, resolved };
    if (under(resolved, '/dev')) {
      return { decision: 'deny', rule: 'builtin:device-write', reason: `writing to the device ${resolved} is blocked`, resolved };
    }
    const segs = resolved.toLowerCase().split('/').filter(Boolean);
    for (const prot of this.protectedSegs) {
      for (let i = 0; i + prot.length <= segs.length; i++) {
        if (prot.every((s, k) => segs[i + k] === s)) {
          return { decision: 'deny', rule: 'paths:protected', reason: `${resolved} is inside the protected path ${prot.join('/')} and cannot be written by the agent`, resolved };
        }
      }
    }
    const roots = this.opts.allowedPaths.length ? this.opts.allowedPaths : [ctx.workspace];
    for (const root of [...roots, ...this.opts.scratchPaths]) {
      if (under(resolved, this.unalias(clean(root), ctx.cwd ?? ctx.workspace))) return { decision: 'allow', rule: 'paths:allowed', reason: `${resolved} is inside ${root}`, resolved };
    }
    const shown = resolved === clean(raw) ? resolved : `${raw} (resolves to ${resolved})`;
    return { decision: 'deny', rule: 'paths:outside-allowed', reason: `${shown} is outside the allowed paths (${roots.join(', ')})`, resolved };
  }

  /**
   * A file action (`write`, `delete`, `read`: not a shell command) is carried out by the agent's file
   * tools, which work inside the workspace only: the agent-runner resolves the path, symlinks included,
   * and refuses anything outside it (agent-runner/src/workspace.ts). So such an action outside the
   * workspace is denied here, with that reason, rather than allowed (and audited as allowed) and then
   * refused in the sandbox: `write /tmp/x` is within the scratch paths a shell command may write, but no
   * file tool will write it. Writing or deleting the workspace directory itself is refused the same way.
   */
  checkFileAction(op: PathOp, raw: string, ctx: PathContext): PathVerdict {
    const v = this.check(op, raw, ctx);
    if (v.decision === 'deny') return v;
    const ws = clean(ctx.workspace);
    if (!under(v.resolved, ws)) {
      const shown = v.resolved === clean(raw) ? v.resolved : `${raw} (resolves to ${v.resolved})`;
      return { decision: 'deny', rule: 'paths:outside-workspace', reason: `${shown} is outside the workspace (${ws}): file actions (write, delete, read) work only inside it`, resolved: v.resolved };
    }
    if (op !== 'read' && v.resolved === ws) {
      return { decision: 'deny', rule: 'paths:workspace-root', reason: `the workspace itself (${ws}) cannot be ${op === 'write' ? 'written as a file' : 'deleted'}`, resolved: v.resolved };
    }
    return v;
  }

  /**
   * Writes of names only known at run time inside `raw` (an archive extracted
   * there, `cp -r dir/. raw`): the directory must be writable, and must not be
   * the parent of a protected path (`.git` holds `.git/hooks` and `.git/config`).
   */
  checkInto(raw: string, ctx: PathContext): PathVerdict {
    const v = this.check('write', raw, ctx);
    if (v.decision === 'deny') return v;
    const segs = v.resolved.toLowerCase().split('/').filter(Boolean);
    for (const prot of this.protectedSegs) {
      for (let k = 1; k < prot.length && k <= segs.length; k++) {
        if (prot.slice(0, k).every((s, i) => segs[segs.length - k + i] === s)) {
          return {
            decision: 'deny',
            rule: 'paths:protected',
            reason: `${v.resolved} contains the protected path ${prot.join('/')}; writing names only known at run time into it could replace it`,
            resolved: v.resolved,
          };
        }
      }
    }
    return v;
  }
}
