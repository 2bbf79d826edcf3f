// IDs by unique prefix, as git and docker do: `loki sessions show 3fa` finds
// ses-3fa…; an ambiguous prefix lists the candidates instead of guessing.
import { LokiError, SESSION_ID_RE } from '../../common/src/index.js';

const FULL: Record<string, RegExp> = {
  session: SESSION_ID_RE,
  sandbox: /^sbx-[0-9a-f]{12}$/,
  approval: /^apr-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
  project: /^prj-[0-9a-f]{12}$/,
};
// What a prefix (or, for sandboxes and projects, a name) may look like; anything else goes to the daemon as typed.
const SHAPE: Record<string, RegExp> = {
  session: /^(ses-)?[0-9a-f]{1,12}$/,
  sandbox: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
  approval: /^(apr-)?[0-9a-f-]{1,36}$/,
  project: /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/,
};
const PREFIX: Record<string, string> = { session: 'ses-', sandbox: 'sbx-', approval: 'apr-', project: 'prj-' };

export interface Named {
  id: string;
  name?: string;
}

/**
 * The full id for `input`: a full id as is; otherwise the one candidate whose id
 * (with or without its `ses-`-style prefix) or name starts with it.
 */
export async function resolveId(kind: keyof typeof FULL, input: string, candidates: () => Promise<Named[]>): Promise<string> {
  if (FULL[kind]!.test(input)) return input;
  // Not shaped like a prefix: the daemon judges it (and says precisely what is wrong with it).
  if (!SHAPE[kind]!.test(input)) return input;
  const all = await candidates();
  const exact = all.find((c) => c.id === input || c.name === input);
  if (exact) return exact.id;
  const p = PREFIX[kind]!;
  const matches = all.filter((c) => c.id.startsWith(input) || c.id.startsWith(p + input) || (c.name ?? '').startsWith(input));
  if (matches.length === 1) return matches[0]!.id;
  // No candidate: the daemon answers for it (its not-found message, or a check we do not repeat here).
  if (matches.length === 0) return input;
  const shown = matches.slice(0, 10).map((m) => `  ${m.id}${m.name ? ` (${m.name})` : ''}`).join('\n');
  throw new LokiError('invalid_argument', `${JSON.stringify(input)} matches ${matches.length} ${kind === 'sandbox' ? 'sandboxes' : `${kind}s`}; give more of the id:\n${shown}${matches.length > 10 ? `\n  … and ${matches.length - 10} more` : ''}`);
}
