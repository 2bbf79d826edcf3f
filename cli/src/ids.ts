// IDs by unique prefix, as git and docker do: `loki sessions show 3fa` finds
// ses-3fa…; an ambiguous prefix lists the candidates instead of guessing.
// The answer is the same over the admin socket and through a gateway: a prefix
// that matches nothing is not_found (exit 5) here, before any server sees a
// value it would only call malformed; a value that is no prefix at all is
// invalid_argument (exit 2) with lokid's and the gateway's own message.
import { LokiError, isRef, malformedRef, type ErrorCode, type RefKind } from '../../common/src/index.js';

type Kind = Extract<RefKind, 'session' | 'sandbox' | 'approval'>;

// What a prefix (or, for sandboxes, a name) may look like.
const SHAPE: Record<Kind, RegExp> = {
  session: /^(ses-)?[0-9a-f]{1,12}$/,
  sandbox: /^[a-z0-9][a-z0-9_.-]{0,62}$/,
  approval: /^(apr-)?[0-9a-f-]{1,36}$/,
};
const SANDBOX_ID = /^sbx-[0-9a-f]{12}$/;
const PREFIX: Record<Kind, string> = { session: 'ses-', sandbox: 'sbx-', approval: 'apr-' };
const NOT_FOUND: Record<Kind, ErrorCode> = { session: 'session_not_found', sandbox: 'sandbox_not_found', approval: 'approval_not_found' };
const PLURAL: Record<Kind, string> = { session: 'sessions', sandbox: 'sandboxes', approval: 'approvals' };

export interface Named {
  id: string;
  name?: string;
}

/**
 * The full id for `input`: a full id as is; otherwise the one candidate whose id
 * (with or without its `ses-`-style prefix) or name starts with it.
 */
export async function resolveId(kind: Kind, input: string, candidates: () => Promise<Named[]>): Promise<string> {
  if (kind === 'sandbox' ? SANDBOX_ID.test(input) : isRef(kind, input)) return input;
  if (!SHAPE[kind].test(input)) throw malformedRef(kind, input);
  const all = await candidates();
  const exact = all.find((c) => c.id === input || c.name === input);
  if (exact) return exact.id;
  const p = PREFIX[kind];
  const matches = all.filter((c) => c.id.startsWith(input) || c.id.startsWith(p + input) || (c.name ?? '').startsWith(input));
  if (matches.length === 1) return matches[0]!.id;
  if (matches.length === 0) {
    // A sandbox name lokid may know although the list did not show it: lokid answers for it.
    if (kind === 'sandbox') return input;
    throw new LokiError(NOT_FOUND[kind], `no ${kind} matches ${JSON.stringify(input)} (see \`loki ${kind === 'session' ? 'sessions' : 'approvals'} list${kind === 'session' ? ' --all' : ' --status all'}\`)`);
  }
  const shown = matches.slice(0, 10).map((m) => `  ${m.id}${m.name ? ` (${m.name})` : ''}`).join('\n');
  throw new LokiError('invalid_argument', `${JSON.stringify(input)} matches ${matches.length} ${PLURAL[kind]}; give more of the id:\n${shown}${matches.length > 10 ? `\n  … and ${matches.length - 10} more` : ''}`);
}
