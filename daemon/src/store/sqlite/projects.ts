// ProjectRepo on SQLite: the `projects` table (names and aliases unique across both).
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
  private readonly q: Record<'find' | 'byPath' | 'clash' | 'insert' | 'list' | 'delete', Statement>;

  constructor(db: Db) {
    this.q = {
      find: db.prepare('SELECT * FROM projects WHERE id = ? OR name = ? OR alias = ?'),
      byPath: db.prepare('SELECT * FROM projects WHERE path = ?'),
      clash: db.prepare('SELECT name, path FROM projects WHERE name IN (?, ?) OR alias IN (?, ?) OR path = ?'),
      insert: db.prepare('INSERT INTO projects (id, name, path, base_branch, remote, protected_branches, registered_by, registered_at, alias) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      list: db.prepare('SELECT * FROM projects ORDER BY name'),
      delete: db.prepare('DELETE FROM projects WHERE id = ?'),
    };
  }

  find(idOrName: string): Project | undefined {
    const r = this.q.find.get(idOrName, idOrName, idOrName) as Row | undefined;
    return r ? toProject(r) : undefined;
  }

  byPath(path: string): Project | undefined {
    const r = this.q.byPath.get(path) as Row | undefined;
    return r ? toProject(r) : undefined;
  }

  clash(name: string, alias: string | null, path: string): Pick<Project, 'name' | 'path'> | undefined {
    return this.q.clash.get(name, alias ?? name, name, alias ?? name, path) as Pick<Project, 'name' | 'path'> | undefined;
  }

  insert(p: Project): void {
    this.q.insert.run(p.id, p.name, p.path, p.baseBranch, p.remote, JSON.stringify(p.protectedBranches), p.registeredBy, p.registeredAtMs, p.alias);
  }

  list(): Project[] {
    return (this.q.list.all() as Row[]).map(toProject);
  }

  delete(id: string): void {
    this.q.delete.run(id);
  }
}
