// The client's side of the wire vocabulary: proto enums ⇄ the domain strings of
// common/src/vocab.ts, for every converter in client/src/grpc/. Requests carry
// the enum and, for daemons older than the enums, the same string in the
// field's old number. Answers: the enum's name when this client knows it; else
// the daemon's legacy string (an older daemon, or a newer daemon's value this
// client does not know yet: shown, not rejected); a field that is required and
// carries neither is a clear client error naming the field.
import { LokiError, type EnumCodec } from '../../../common/src/index.js';
import { approvalStatusCodec, autonomyCodec, decisionCodec, providerCodec, sandboxStateCodec, sessionStateCodec } from '../../../common/src/wire-vocab.js';

export { approvalStatusCodec, autonomyCodec, decisionCodec, providerCodec, sandboxStateCodec, sessionStateCodec };

/**
 * A request field: the enum, plus the string for an older daemon. A value
 * outside the list is refused here, before anything is sent, naming the field.
 */
export function enumForRequest<W extends number>(codec: EnumCodec<string, W>, field: string, value: string | undefined): { wire: W; legacy: string } {
  if (!value) return { wire: codec.toWire(''), legacy: '' };
  if (!(codec.values as readonly string[]).includes(value)) throw new LokiError('invalid_argument', `unknown ${field} ${JSON.stringify(value.slice(0, 32))} (known: ${codec.values.join(', ')})`);
  return { wire: codec.toWire(value), legacy: value };
}

/** An answer field as its domain string ('' = not set; allowed only when `optional`). */
export function enumFromAnswer(codec: EnumCodec<string, number>, field: string, n: number | undefined, legacy: string | undefined, optional = false): string {
  const known = n ? codec.fromWire(n) : undefined;
  if (known !== undefined) return known;
  if (legacy) return legacy;
  if (n) throw new LokiError('internal', `the daemon sent ${field} ${n}, a value this client does not know and with no name beside it; upgrade the client`);
  if (!optional) throw new LokiError('internal', `the daemon sent no ${field}`);
  return '';
}
