// The daemon's side of the wire vocabulary: domain strings (common/src/vocab.ts)
// ⇄ proto enums, for every adapter. Requests are untrusted: an enum number
// outside the list, or an unknown legacy string from an older client, is
// INVALID_ARGUMENT naming the field. UNSPECIFIED with no legacy string means
// "not given" (the adapter's default applies).
import { LokiError, isOneOf, type EnumCodec } from '../../../common/src/index.js';
import { approvalStatusCodec, autonomyCodec, decisionCodec, providerCodec, sandboxStateCodec, sessionStateCodec } from '../../../common/src/wire-vocab.js';

export { approvalStatusCodec, autonomyCodec, decisionCodec, providerCodec, sandboxStateCodec, sessionStateCodec };

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
