// Every tool call goes through here: report it, ask the daemon (Decide), and
// only on `allow` execute it in the sandbox. A deny becomes the tool's result,
// carrying the reason, so the model (or the script log) sees why and goes on.
import { status, type ServiceError } from '@grpc/grpc-js';
import type { AgentAction } from '../../proto/gen/loki/v1/agent.js';
import { isAllowed, type AgentLink, type Reporter } from './channel.js';
import { PathError, type Workspace } from './workspace.js';

export interface Outcome {
  ok: boolean;
  denied: boolean;
  /** What the model (or the script log) is told. */
  output: string;
}

type Kind = NonNullable<AgentAction['action']>;

const AUTHOR = { name: 'Loki Agent', email: 'agent@loki.local' };

/** An event's text cut to `max` characters, saying how much was cut (the agent still gets it all). */
function preview(s: string, max = 200): string {
  if (s.length <= max) return s;
  const cut = /[\ud800-\udbff]/.test(s[max - 1] ?? '') ? max - 1 : max; // never half a surrogate pair
  return `${s.slice(0, cut)}… [+${s.length - cut} chars]`;
}

export class Actor {
  constructor(
    private readonly link: AgentLink,
    private readonly reporter: Reporter,
    readonly ws: Workspace,
  ) {}

  private async gate(action: Kind, tool: string, detail: string, summary: string): Promise<Outcome | undefined> {
    this.reporter.emit({ type: 'tool_call', message: summary, dataJson: JSON.stringify({ tool, action: action.$case }) });
    // Events first, then the decision: the daemon records the events the Decide
    // carries before deciding, so its trail stays in order even when the
    // decision waits for a human.
    const events = await this.reporter.take();
    let d;
    try {
      d = await this.link.decide({ action, tool, detail }, { events });
    } catch (err) {
      // A malformed request (empty command, oversized path) is the model's
      // mistake: tell it, like a denial, instead of ending the run. Its events were recorded first.
      const e = err as ServiceError;
      if (e.code !== status.INVALID_ARGUMENT) {
        this.reporter.requeue(events);
        throw err;
      }
      this.reporter.emit({ type: 'denied', message: `${summary}: ${e.details}`, dataJson: JSON.stringify({ tool, reason: e.details }) });
      return { ok: false, denied: true, output: `rejected by Loki: ${e.details}` };
    }
    if (isAllowed(d)) return undefined;
    const reason = d.reason || 'denied by policy';
    this.reporter.emit({ type: 'denied', message: `${summary}: ${reason}`, dataJson: JSON.stringify({ tool, rule: d.rule, reason }) });
    return { ok: false, denied: true, output: `denied by Loki policy: ${reason}` };
  }

  private result(tool: string, ok: boolean, output: string, extra: Record<string, unknown> = {}): Outcome {
    this.reporter.emit({ type: 'tool_result', message: preview(output), dataJson: JSON.stringify({ tool, ok, ...extra }) });
    return { ok, denied: false, output };
  }

  private async guarded(tool: string, fn: () => Promise<Outcome>): Promise<Outcome> {
    try {
      return await fn();
    } catch (err) {
      const msg = err instanceof PathError ? err.message : `${tool} failed: ${(err as Error).message}`;
      return this.result(tool, false, msg);
    }
  }

  async shell(command: string, tool = 'shell'): Promise<Outcome> {
    const denied = await this.gate({ $case: 'shell', shell: command }, tool, '', `$ ${preview(command)}`);
    if (denied) return denied;
    const r = await this.ws.run(command);
    return this.result(tool, r.exitCode === 0, `exit ${r.exitCode}\n${r.output}`, { exit_code: r.exitCode, timed_out: r.timedOut });
  }

  async write(path: string, content: string, tool = 'write_file'): Promise<Outcome> {
    const abs = this.ws.absolute(path);
    const denied = await this.gate({ $case: 'writePath', writePath: abs }, tool, preview(content), `write ${abs}`);
    if (denied) return denied;
    return this.guarded(tool, async () => this.result(tool, true, `wrote ${await this.ws.write(abs, content)} bytes to ${abs}`));
  }

  async read(path: string, tool = 'read_file'): Promise<Outcome> {
    const abs = this.ws.absolute(path);
    const denied = await this.gate({ $case: 'readPath', readPath: abs }, tool, '', `read ${abs}`);
    if (denied) return denied;
    return this.guarded(tool, async () => this.result(tool, true, await this.ws.read(abs), { path: abs }));
  }

  async list(path: string, tool = 'list_files'): Promise<Outcome> {
    const abs = this.ws.absolute(path || '.');
    const denied = await this.gate({ $case: 'readPath', readPath: abs }, tool, 'list', `list ${abs}`);
    if (denied) return denied;
    return this.guarded(tool, async () => this.result(tool, true, (await this.ws.list(abs)).join('\n')));
  }

  async delete(path: string, tool = 'delete_file'): Promise<Outcome> {
    const abs = this.ws.absolute(path);
    const denied = await this.gate({ $case: 'deletePath', deletePath: abs }, tool, '', `delete ${abs}`);
    if (denied) return denied;
    return this.guarded(tool, async () => {
      await this.ws.remove(abs);
      return this.result(tool, true, `deleted ${abs}`);
    });
  }

  async commit(message: string, tool = 'git_commit'): Promise<Outcome> {
    const denied = await this.gate({ $case: 'commitMessage', commitMessage: message }, tool, '', `commit "${preview(message, 80)}"`);
    if (denied) return denied;
    const r = await this.ws.commit(message, AUTHOR);
    return this.result(tool, r.exitCode === 0, `exit ${r.exitCode}\n${r.output}`, { exit_code: r.exitCode });
  }

  /** A phase boundary: under checkpoint autonomy the daemon may hold it for approval. */
  async phase(name: string, tool = 'phase'): Promise<Outcome> {
    const denied = await this.gate({ $case: 'phase', phase: name }, tool, '', `phase ${name}`);
    if (denied) return denied;
    this.reporter.emit({ type: 'phase', message: name });
    return { ok: true, denied: false, output: `phase ${name}` };
  }
}
