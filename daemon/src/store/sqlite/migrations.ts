// The daemon's schema: ONE ordered list of migrations, applied in this order,
// each exactly once (recorded in schema_migrations by module + version). The
// ids and SQL of the migrations that main shipped are kept byte for byte so a
// database created by an older daemon upgrades in place; add new ones at the end
// of their module's run, never edit an applied one.
import type { Migration } from '../db.js';

export const MIGRATIONS: readonly Migration[] = [
  {
    module: 'approvals',
    version: 1,
    sql: `CREATE TABLE approvals (
      id TEXT PRIMARY KEY,
      session_id TEXT NOT NULL,
      action_kind TEXT NOT NULL,
      normalized TEXT NOT NULL,
      action_hash TEXT NOT NULL,
      asked_by TEXT NOT NULL,
      reason TEXT NOT NULL,
      requested_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending','approved','rejected','expired')),
      decided_by TEXT NOT NULL DEFAULT '',
      decided_at INTEGER NOT NULL DEFAULT 0,
      comment TEXT NOT NULL DEFAULT '',
      consumed_at INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX approvals_session ON approvals (session_id, status);
    CREATE INDEX approvals_pending ON approvals (status, expires_at);`,
  },
  {
    module: 'approvals',
    version: 2,
    sql: `ALTER TABLE approvals ADD COLUMN approvals_required INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE approvals ADD COLUMN distinct_from_starter INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE approvals ADD COLUMN approvers TEXT NOT NULL DEFAULT '[]';`,
  },
  {
    module: 'approvals',
    version: 3,
    // The exact shell command an approval lets run (what the human must read); '' for older rows.
    sql: `ALTER TABLE approvals ADD COLUMN command TEXT NOT NULL DEFAULT '';`,
  },
  {
    module: 'approvals',
    version: 4,
    // Which Decide used an approval (a numbered Decide's mark; '' for any other use and older rows):
    // a numbered Decide sent again is answered by the approval only if it was the one that used it.
    sql: `ALTER TABLE approvals ADD COLUMN consumed_by TEXT NOT NULL DEFAULT '';`,
  },
  {
    module: 'approvals',
    version: 5,
    // A numbered Decide's mark now names its runner generation (decide:<gen>:<seq>:<hash>). A mark
    // written before (decide:<seq>:<hash>, two colons) was a runner of generation 0, which every
    // session upgraded to sessions v8 is in: rewritten so the Decide sent again after the upgrade is
    // still answered by the approval it used instead of asking a human again.
    sql: `UPDATE approvals SET consumed_by = 'decide:0:' || substr(consumed_by, 8)
      WHERE consumed_by LIKE 'decide:%:%' AND consumed_by NOT LIKE 'decide:%:%:%';`,
  },
  {
    module: 'git_workspaces',
    version: 1,
    sql: `CREATE TABLE git_workspaces (
      session_id TEXT PRIMARY KEY,
      project_id TEXT NOT NULL,
      owner TEXT NOT NULL,
      agent TEXT NOT NULL,
      path TEXT NOT NULL,
      branch TEXT NOT NULL UNIQUE,
      base_branch TEXT NOT NULL,
      base_commit TEXT NOT NULL,
      state TEXT NOT NULL,
      created_at INTEGER NOT NULL,
      finished_at INTEGER,
      head_commit TEXT
    )`,
  },
  {
    module: 'git_workspaces',
    version: 2,
    // The last pull-request attempt (PrResult JSON): why none was opened and the commands to do it by hand.
    sql: `ALTER TABLE git_workspaces ADD COLUMN pull_request TEXT`,
  },
  {
    module: 'learnings',
    version: 1,
    sql: `CREATE TABLE learnings (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL,
      project_id TEXT NOT NULL,
      text TEXT NOT NULL,
      tags TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL
    );
    CREATE INDEX learnings_session ON learnings (session_id);
    CREATE INDEX learnings_project ON learnings (project_id, created_at);
    CREATE VIRTUAL TABLE learnings_fts USING fts5(text, tags, content='learnings', content_rowid='id', tokenize='unicode61');
    CREATE TRIGGER learnings_ai AFTER INSERT ON learnings BEGIN
      INSERT INTO learnings_fts (rowid, text, tags) VALUES (new.id, new.text, new.tags);
    END;
    CREATE TRIGGER learnings_ad AFTER DELETE ON learnings BEGIN
      INSERT INTO learnings_fts (learnings_fts, rowid, text, tags) VALUES ('delete', old.id, old.text, old.tags);
    END;`,
  },
  {
    module: 'projects',
    version: 1,
    sql: `CREATE TABLE projects (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL UNIQUE,
      path TEXT NOT NULL UNIQUE,
      base_branch TEXT NOT NULL,
      remote TEXT,
      protected_branches TEXT NOT NULL DEFAULT '[]',
      registered_by TEXT NOT NULL,
      registered_at INTEGER NOT NULL
    )`,
  },
  {
    module: 'projects',
    version: 2,
    // alias: a second name (`loki projects register --alias`), unique across names and aliases.
    sql: `ALTER TABLE projects ADD COLUMN alias TEXT;
    CREATE UNIQUE INDEX projects_alias ON projects (alias) WHERE alias IS NOT NULL;`,
  },
  {
    module: 'sessions',
    version: 1,
    sql: `CREATE TABLE sessions (
      id TEXT PRIMARY KEY,
      owner TEXT NOT NULL,
      state TEXT NOT NULL,
      provider TEXT NOT NULL,
      profile TEXT NOT NULL,
      autonomy TEXT NOT NULL,
      project_id TEXT NOT NULL,
      prompt_source TEXT NOT NULL,
      prompt TEXT NOT NULL,
      plan_json TEXT NOT NULL,
      model TEXT NOT NULL,
      base_url TEXT NOT NULL,
      max_iterations INTEGER NOT NULL,
      network INTEGER NOT NULL DEFAULT 0,
      sandbox_id TEXT NOT NULL DEFAULT '',
      workspace TEXT NOT NULL DEFAULT '',
      branch TEXT NOT NULL DEFAULT '',
      created_at INTEGER NOT NULL,
      started_at INTEGER NOT NULL DEFAULT 0,
      ended_at INTEGER NOT NULL DEFAULT 0,
      last_event_at INTEGER NOT NULL DEFAULT 0,
      iteration INTEGER NOT NULL DEFAULT 0,
      agents_active INTEGER NOT NULL DEFAULT 0,
      agents_total INTEGER NOT NULL DEFAULT 0,
      cost_usd REAL NOT NULL DEFAULT 0,
      input_tokens INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0,
      events_total INTEGER NOT NULL DEFAULT 0,
      stop_requested INTEGER NOT NULL DEFAULT 0,
      reason TEXT NOT NULL DEFAULT '',
      decisions_allow INTEGER NOT NULL DEFAULT 0,
      decisions_deny INTEGER NOT NULL DEFAULT 0,
      decisions_ask INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX sessions_state ON sessions (state);
    CREATE TABLE session_events (
      gid INTEGER PRIMARY KEY AUTOINCREMENT,
      session_id TEXT NOT NULL REFERENCES sessions(id),
      seq INTEGER NOT NULL,
      time_ms INTEGER NOT NULL,
      type TEXT NOT NULL,
      message TEXT NOT NULL,
      data_json TEXT NOT NULL,
      UNIQUE (session_id, seq)
    );
    CREATE TABLE session_tasks (
      session_id TEXT NOT NULL REFERENCES sessions(id),
      task_id TEXT NOT NULL,
      status TEXT NOT NULL,
      PRIMARY KEY (session_id, task_id)
    );
    CREATE TABLE session_task_reached (
      session_id TEXT NOT NULL REFERENCES sessions(id),
      status TEXT NOT NULL,
      n INTEGER NOT NULL,
      PRIMARY KEY (session_id, status)
    );
    CREATE TABLE session_agents (
      session_id TEXT NOT NULL REFERENCES sessions(id),
      agent TEXT NOT NULL,
      PRIMARY KEY (session_id, agent)
    );`,
  },
  {
    module: 'sessions',
    version: 2,
    // upstream: the model upstream's name (its key is looked up in config, never stored).
    sql: `ALTER TABLE sessions ADD COLUMN upstream TEXT NOT NULL DEFAULT '';
    ALTER TABLE sessions ADD COLUMN workspace_removed_at INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    module: 'sessions',
    version: 3,
    // Keyset pagination of the sessions list: one index for every session (admin),
    // one per owner (everyone else), both in the list's sort order.
    sql: `CREATE INDEX sessions_created ON sessions (created_at, id);
    CREATE INDEX sessions_owner_created ON sessions (owner, created_at, id);`,
  },
  {
    module: 'sessions',
    version: 4,
    // Retention and prune look only at sessions whose workspace or sandbox is still there.
    sql: `CREATE INDEX sessions_leftovers ON sessions (ended_at) WHERE workspace_removed_at = 0;`,
  },
  {
    module: 'sessions',
    version: 5,
    // /metrics shows the most recently ended sessions: found from the end of this
    // index instead of sorting every session on each scrape.
    sql: `CREATE INDEX sessions_ended ON sessions (ended_at, id);`,
  },
  {
    module: 'sessions',
    version: 6,
    // The highest runner number (AgentEvent.runner_seq) recorded: an event the runner
    // sends again after a daemon restart is recorded once, in the transaction of its append.
    sql: `ALTER TABLE sessions ADD COLUMN runner_seq INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    module: 'sessions',
    version: 7,
    // The runner's last numbered Decide (AgentDecideRequest.decide_seq): its action hash, the
    // approval it waits on and, once final, its answer (JSON), so the Decide sent again after a
    // daemon restart gets that answer instead of a second approval. One per session, never more.
    sql: `
      ALTER TABLE sessions ADD COLUMN decide_seq INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE sessions ADD COLUMN decide_hash TEXT NOT NULL DEFAULT '';
      ALTER TABLE sessions ADD COLUMN decide_approval TEXT NOT NULL DEFAULT '';
      ALTER TABLE sessions ADD COLUMN decide_answer TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    module: 'sessions',
    version: 8,
    // The runner generation: one more at each Hello. The Decide record is written (and its answer
    // kept) only while the generation it was asked in is still the session's, so an older runner's
    // late write is never read as the new runner's.
    sql: `ALTER TABLE sessions ADD COLUMN runner_gen INTEGER NOT NULL DEFAULT 0;`,
  },
  {
    module: 'tokens',
    version: 1,
    sql: `
      CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        hash BLOB NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        role TEXT NOT NULL,
        owner TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER,
        revoked_at INTEGER,
        last_used_at INTEGER
      );
      CREATE UNIQUE INDEX tokens_unrevoked_name ON tokens(name) WHERE revoked_at IS NULL;
      CREATE INDEX tokens_unrevoked_owner ON tokens(owner) WHERE revoked_at IS NULL;
    `,
  },
];
