// ProjectRepo on SQLite: the `projects` table (names and aliases unique across both).
// Synchronous inside; `async` only to meet the (networked-store-ready) interface.
import type { Statement } from 'better-sqlite3';
import type { Project } from '../../git/projects.js';
import type { ProjectRepo } from '../../git/repo.js';
import type { Db } from '../db.js';

interface Row {
  id: string;
  name: string;
  path: string;
  base_branch: string;
  remote: string | null;
  protected_branches: string;
  registered_by: string;
  registered_at: number;
  alias: string | null;
}

function toProject(r: Row): Project {
  return {
    id: r.id,
    name: r.name,
    path: r.path,
    baseBranch: r.base_branch,
    remote: r.remote,
    protectedBranches: JSON.parse(r.protected_branches) as string[],
    registeredBy: r.registered_by,
    registeredAtMs: r.registered_at,
    alias: r.alias,
  };
}

export class SqliteProjectRepo implements ProjectRepo {
  private readonly q: Record<'find' | 'byPath' | 'clash' | 'insert' | 'list' | 'active' | 'delete', Statement>;

  constructor(private readonly db: Db) {
    this.q = {
      find: db.prepare('SELECT * FROM projects WHERE id = ? OR name = ? OR alias = ?'),
      byPath: db.prepare('SELECT * FROM projects WHERE path = ?'),
      clash: db.prepare('SELECT * FROM projects WHERE name IN (?, ?) OR alias IN (?, ?) OR path = ?'),
      insert: db.prepare('INSERT INTO projects (id, name, path, base_branch, remote, protected_branches, registered_by, registered_at, alias) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      list: db.prepare('SELECT * FROM projects ORDER BY name'),
      active: db.prepare("SELECT COUNT(*) AS n FROM git_workspaces WHERE project_id = ? AND state = 'active'"),
      delete: db.prepare('DELETE FROM projects WHERE id = ?'),
    };
  }

  async find(idOrName: string): Promise<Project | undefined> {
    const r = this.q.find.get(idOrName, idOrName, idOrName) as Row | undefined;
    return r ? toProject(r) : undefined;
  }

  async byPath(path: string): Promise<Project | undefined> {
    const r = this.q.byPath.get(path) as Row | undefined;
    return r ? toProject(r) : undefined;
  }

  // One transaction: two registrations of one name or path cannot both pass the check.
  async insertUnlessClash(p: Project): Promise<Project | undefined> {
    return this.db.transaction((): Project | undefined => {
      const r = this.q.clash.get(p.name, p.alias ?? p.name, p.name, p.alias ?? p.name, p.path) as Row | undefined;
      if (r) return toProject(r);
      this.q.insert.run(p.id, p.name, p.path, p.baseBranch, p.remote, JSON.stringify(p.protectedBranches), p.registeredBy, p.registeredAtMs, p.alias);
      return undefined;
    })();
  }

  async list(): Promise<Project[]> {
    return (this.q.list.all() as Row[]).map(toProject);
  }

  async deleteUnlessActive(id: string): Promise<number | undefined> {
    return this.db.transaction((): number | undefined => {
      const { n } = this.q.active.get(id) as { n: number };
      // Nothing deleted: another removal got there first (this one did not happen).
      if (n === 0 && this.q.delete.run(id).changes === 0) return undefined;
      return n;
    })();
  }
}
