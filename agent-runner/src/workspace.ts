// Executes allowed actions inside the sandbox. Only ever called after the
// daemon said `allow`. File operations are confined to the workspace after
// resolving symlinks, so an approved "write /workspace/x" cannot land elsewhere
// through a link the model planted: what runs is what the policy approved.
// (The sandbox, not this check, is the security boundary: the runner has no
// more rights than the agent's own shell commands.)
import { spawn } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';

export interface ExecResult {
  exitCode: number;
  output: string;
  timedOut: boolean;
}

export interface WorkspaceOptions {
  root: string;
  commandTimeoutMs: number;
  outputCapBytes: number;
  /** The environment commands see: deliberately small, never the runner's secrets. */
  env: Record<string, string>;
}

export class PathError extends Error {}

export class Workspace {
  constructor(readonly o: WorkspaceOptions) {}

  /** Absolute sandbox path for a model-supplied path (relative paths are under the workspace). */
  absolute(p: string): string {
    return isAbsolute(p) ? resolve(p) : resolve(this.o.root, p);
  }

  private async confined(p: string): Promise<string> {
    const abs = this.absolute(p);
    const root = await realpath(this.o.root);
    // Resolve the longest existing prefix, then re-append the rest: the target
    // may not exist yet (write), but its parent's real location must be inside.
    let existing = abs;
    const rest: string[] = [];
    for (;;) {
      try {
        existing = await realpath(existing);
        break;
      } catch {
        rest.unshift(existing.slice(dirname(existing).length + 1));
        const parent = dirname(existing);
        if (parent === existing) break;
        existing = parent;
      }
    }
    const real = join(existing, ...rest);
    const rel = relative(root, real);
    if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) throw new PathError(`${p} is outside the workspace`);
    return real;
  }

  async read(p: string, maxBytes = 256 * 1024): Promise<string> {
    const real = await this.confined(p);
    const buf = await readFile(real);
    const text = buf.subarray(0, maxBytes).toString('utf8');
    return buf.length > maxBytes ? `${text}\n[truncated: ${buf.length} bytes]` : text;
  }

  async write(p: string, content: string): Promise<number> {
    const real = await this.confined(p);
    await mkdir(dirname(real), { recursive: true });
    await writeFile(real, content);
    return Buffer.byteLength(content);
  }

  async remove(p: string): Promise<void> {
    const real = await this.confined(p);
    if (real === (await realpath(this.o.root))) throw new PathError('refusing to delete the workspace itself');
    await rm(real, { recursive: true, force: true });
  }

  async list(p: string, max = 500): Promise<string[]> {
    const real = await this.confined(p || '.');
    const entries = await readdir(real, { withFileTypes: true });
    return entries
      .filter((e) => e.name !== '.git')
      .slice(0, max)
      .map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
  }

  async isFile(p: string): Promise<boolean> {
    try {
      return (await lstat(await this.confined(p))).isFile();
    } catch {
      return false;
    }
  }

  run(command: string): Promise<ExecResult> {
    return this.spawnCapture('/bin/sh', ['-c', command]);
  }

  /** Paths with changes not committed yet (`git status --porcelain`, untracked included, .gitignore respected); undefined when git cannot say. */
  async uncommitted(): Promise<string[] | undefined> {
    const r = await this.spawnCapture('git', ['-C', this.o.root, 'status', '--porcelain', '--untracked-files=all']);
    if (r.exitCode !== 0) return undefined;
    return r.output
      .split('\n')
      .filter((l) => l.length > 3)
      .map((l) => l.slice(3));
  }

  /** `git add -A` then `git commit`: argv, never a shell, so the message cannot inject commands. */
  async commit(message: string, author: { name: string; email: string }): Promise<ExecResult> {
    const add = await this.spawnCapture('git', ['-C', this.o.root, 'add', '-A']);
    if (add.exitCode !== 0) return add;
    return this.spawnCapture('git', ['-C', this.o.root, '-c', `user.name=${author.name}`, '-c', `user.email=${author.email}`, 'commit', '-q', '-m', message]);
  }

  private spawnCapture(file: string, args: string[]): Promise<ExecResult> {
    return new Promise((resolvePromise) => {
      // detached: its own process group, so a timeout kills the whole pipeline.
      const child = spawn(file, args, { cwd: this.o.root, env: this.o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
      const chunks: Buffer[] = [];
      let size = 0;
      let truncated = false;
      const take = (b: Buffer) => {
        if (size >= this.o.outputCapBytes) {
          truncated = true;
          return;
        }
        const part = b.subarray(0, this.o.outputCapBytes - size);
        if (part.length < b.length) truncated = true;
        chunks.push(part);
        size += part.length;
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, this.o.commandTimeoutMs);
      let done = false;
      const finish = (code: number) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        let output = Buffer.concat(chunks).toString('utf8');
        if (truncated) output += `\n[output truncated at ${this.o.outputCapBytes} bytes]`;
        if (timedOut) output += `\n[killed after ${this.o.commandTimeoutMs} ms]`;
        resolvePromise({ exitCode: code, output, timedOut });
      };
      child.on('error', (err) => {
        chunks.push(Buffer.from(err.message));
        finish(127);
      });
      child.on('close', (code, signal) => finish(code ?? (signal ? 128 : 1)));
    });
  }
}
