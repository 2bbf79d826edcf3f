// The agent action audit trail: one JSONL file per session under the daemon's
// state dir (never inside the workspace), appended only by the daemon, each
// line sequence-numbered and fsync'd before append() returns.
import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import { validateSessionId } from './refs.js';
import { exportTrailFile } from './trail-export.js';

export interface TrailEntry {
  timestamp: string;
  seq: number;
  action: string;
  agent: string;
  details: Record<string, unknown>;
}

export interface TrailInput {
  action: string;
  agent: string;
  details?: Record<string, unknown>;
}

export interface TrailCounts {
  total: number;
  byAction: Record<string, number>;
  bySession: Record<string, number>;
}

const ACTION = /^[a-z][a-z0-9_.]{0,63}$/;
const AGENT = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface AgentTrailOptions {
  /** Directory for `<sessionId>.jsonl` files, e.g. `$LOKI_HOME/state/trails`. */
  dir: string;
  clock?: () => number;
}

export class AgentTrail {
  private readonly dir: string;
  private readonly clock: () => number;
  /** Next seq per session, read from the file on first use after a restart. */
  private readonly nextSeq = new Map<string, number>();

  constructor(opts: AgentTrailOptions) {
    if (!opts.dir) throw new Error('AgentTrail needs dir');
    this.dir = opts.dir;
    this.clock = opts.clock ?? Date.now;
  }

  private file(sessionId: string): string {
    return join(this.dir, `${validateSessionId(sessionId)}.jsonl`);
  }

  /** Appends one entry durably. Synchronous write + fsync, so entries of one session never interleave. */
  append(sessionId: string, input: TrailInput): TrailEntry {
    if (!ACTION.test(input.action)) throw new LokiError('invalid_argument', `invalid trail action ${JSON.stringify(input.action)}`);
    if (!AGENT.test(input.agent)) throw new LokiError('invalid_argument', `invalid agent name ${JSON.stringify(input.agent)}`);
    const file = this.file(sessionId);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const seq = this.nextSeq.get(sessionId) ?? this.read(sessionId).length + 1;
    const entry: TrailEntry = {
      timestamp: new Date(this.clock()).toISOString(),
      seq,
      action: input.action,
      agent: input.agent,
      details: input.details ?? {},
    };
    // O_NOFOLLOW: the trail dir is the daemon's, but never write through a planted symlink.
    const fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, JSON.stringify(entry) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.nextSeq.set(sessionId, seq + 1);
    return entry;
  }

  /** Entries of one session in order; a torn last line (crash mid-write) is skipped. */
  read(sessionId: string): TrailEntry[] {
    const file = this.file(sessionId);
    if (!existsSync(file)) return [];
    const out: TrailEntry[] = [];
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      try {
        out.push(JSON.parse(line) as TrailEntry);
      } catch {
        // only a crash between write and fsync leaves a partial line; it was never acknowledged
      }
    }
    return out;
  }

  sessions(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.endsWith('.jsonl'))
      .map((f) => f.slice(0, -'.jsonl'.length))
      .sort();
  }

  count(sessionId?: string): TrailCounts {
    const counts: TrailCounts = { total: 0, byAction: {}, bySession: {} };
    for (const sid of sessionId ? [sessionId] : this.sessions()) {
      const entries = this.read(sid);
      counts.bySession[sid] = entries.length;
      counts.total += entries.length;
      for (const e of entries) counts.byAction[e.action] = (counts.byAction[e.action] ?? 0) + 1;
    }
    return counts;
  }

  /**
   * Writes a read-only (0444) copy of the trail to `<projectPath>/.loki/logs/agent-audit.jsonl`,
   * as the project directory's owner, refusing links on the way (trail-export.ts says why).
   */
  exportTo(sessionId: string, projectPath: string): Promise<string> {
    return exportTrailFile(projectPath, this.read(sessionId).map((e) => JSON.stringify(e) + '\n').join(''));
  }
}
