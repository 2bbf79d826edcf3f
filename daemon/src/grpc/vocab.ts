// The daemon's side of the wire vocabulary: domain strings (common/src/vocab.ts)
// ⇄ proto enums, for every adapter. Requests are untrusted: an enum number
// outside the list, or an unknown legacy string from an older client, is
// INVALID_ARGUMENT naming the field. UNSPECIFIED with no legacy string means
// "not given" (the adapter's default applies).
import {
  APPROVAL_STATUSES,
  AUTONOMY_MODES,
  DECISIONS,
  LokiError,
  PROVIDERS,
  SESSION_STATES,
  enumCodec,
  isOneOf,
  type EnumCodec,
} from '../../../common/src/index.js';
import type { ApprovalStatus as PbApprovalStatus, PolicyDecision as PbDecision } from '../../../proto/gen/loki/v1/policy.js';
import type { SessionState as PbSessionState } from '../../../proto/gen/loki/v1/sessions.js';
import type { AutonomyMode as PbAutonomyMode, Provider as PbProvider } from '../../../proto/gen/loki/v1/vocab.js';

export const sessionStateCodec = enumCodec<(typeof SESSION_STATES)[number], PbSessionState>(SESSION_STATES);
export const providerCodec = enumCodec<(typeof PROVIDERS)[number], PbProvider>(PROVIDERS);
export const autonomyCodec = enumCodec<(typeof AUTONOMY_MODES)[number], PbAutonomyMode>(AUTONOMY_MODES);
export const decisionCodec = enumCodec<(typeof DECISIONS)[number], PbDecision>(DECISIONS);
export const approvalStatusCodec = enumCodec<(typeof APPROVAL_STATUSES)[number], PbApprovalStatus>(APPROVAL_STATUSES);

/**
 * A request's enum field as its domain string: the enum when set, else the
 * deprecated string an older client sends in the field's old number, else ''
 * (not given). `field` names the field in the error (`provider`, `autonomy mode`).
 */
export function enumFromRequest<D extends string>(codec: EnumCodec<D, number>, field: string, n: number | undefined, legacy: string | undefined = ''): D | '' {
  const unknown = (shown: string) => new LokiError('invalid_argument', `unknown ${field} ${shown} (known: ${codec.values.join(', ')})`);
  if (n) {
    const v = codec.fromWire(n);
    if (v === undefined) throw unknown(String(n));
    return v;
  }
  if (!legacy) return '';
  if (!isOneOf(codec.values, legacy)) throw unknown(JSON.stringify(legacy.slice(0, 32)));
  return legacy;
}

/** A domain string as an answer's enum (UNSPECIFIED for '' ); adapters send the same string in the legacy field for older clients. */
export function enumToWire<W extends number>(codec: EnumCodec<string, W>, value: string): W {
  return codec.toWire(isOneOf(codec.values, value) ? value : '');
}
