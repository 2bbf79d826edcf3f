// What a reference to a session, approval, sandbox or project looks like, and the
// one message for a reference that does not look like one. The same mistake gets
// the same answer through every door: lokid on its sockets, the gateway's schema
// check (gateway/src/plugins/errors.ts maps a failed pattern on an `id` or
// `session_id` back to this message), and the CLI's prefix resolution. A
// well-formed reference that names nothing is not_found, from whichever of them
// finds that out; a malformed one is invalid_argument, worded here.
import { LokiError } from './errors.js';
import { SESSION_ID_PATTERN } from './vocab.js';

/** Approval ids as the daemon mints them (`apr-` + a UUID). */
export const APPROVAL_ID_PATTERN = '^apr-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
/** A sandbox id (`sbx-` + 12 hex digits) or a sandbox name: both fit the name rule. */
export const SANDBOX_REF_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,62}$';
/** A project id (`prj-…`), name or alias. */
export const PROJECT_REF_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$';

export type RefKind = 'session' | 'approval' | 'sandbox' | 'project';

const REFS: Readonly<Record<RefKind, { pattern: string; re: RegExp; what: string }>> = {
  session: { pattern: SESSION_ID_PATTERN, re: new RegExp(SESSION_ID_PATTERN), what: 'a session id (ses- and 12 hex digits)' },
  approval: { pattern: APPROVAL_ID_PATTERN, re: new RegExp(APPROVAL_ID_PATTERN), what: 'an approval id (apr- and a UUID)' },
  sandbox: { pattern: SANDBOX_REF_PATTERN, re: new RegExp(SANDBOX_REF_PATTERN), what: 'a sandbox id (sbx-…) or name (1-63 of a-z, 0-9, "_", "." and "-", starting with a letter or digit)' },
  project: { pattern: PROJECT_REF_PATTERN, re: new RegExp(PROJECT_REF_PATTERN), what: 'a project id (prj-…), name or alias' },
};

/** True when `value` is a well-formed reference of this kind (it may still name nothing). */
export function isRef(kind: RefKind, value: string): boolean {
  return REFS[kind].re.test(value);
}

/** The invalid_argument for a reference that is not one; the value is quoted as JSON (escapes visible) and cut. */
export function malformedRef(kind: RefKind, value: string): LokiError {
  return new LokiError('invalid_argument', `${JSON.stringify(value.slice(0, 64))}${value.length > 64 ? '…' : ''} is not ${REFS[kind].what}`);
}

/** `value` when it is a well-formed reference of this kind; otherwise throws `malformedRef`. */
export function checkRef(kind: RefKind, value: string): string {
  if (!isRef(kind, value)) throw malformedRef(kind, value);
  return value;
}

/** The kind whose JSON-schema pattern this is (for mapping a schema's pattern failure to the same message). */
export function refKindOfPattern(pattern: unknown): RefKind | undefined {
  return (Object.keys(REFS) as RefKind[]).find((k) => REFS[k].pattern === pattern);
}
