// Session rows for tests that seed a store through SessionRepo (lists, pages).
import type { NewSession } from '../../../daemon/src/sessions/repo.js';

/** The id of the i-th seeded session: ses-<i in 12 hex digits>, so ids sort like i. */
export const seededId = (i: number): string => `ses-${i.toString(16).padStart(12, '0')}`;

export function sessionRow(i: number, owner: string): NewSession {
  return {
    id: seededId(i),
    owner,
    provider: 'script',
    profile: 'default',
    autonomy: 'checkpoint',
    projectId: 'prj-000000000001',
    promptSource: 'inline',
    prompt: `task ${i}`,
    planJson: '[]',
    model: '',
    baseUrl: '',
    upstream: '',
    maxIterations: 10,
    network: false,
  };
}
