// commander option parsers that reject bad input with a specific message.
import { InvalidArgumentError } from 'commander';
import { parseBytes } from '../../../common/src/index.js';

export function parseIntOption(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** For counts where 0 would reach the daemon as "unset" and silently mean the default (all lines, the default cap). */
export function parsePositiveIntOption(value: string): number {
  const n = parseIntOption(value);
  if (n < 1) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

/** A TCP port, checked before `loki up` starts lokid only to have the gateway refuse it. */
export function parsePortOption(value: string): number {
  const n = parseIntOption(value);
  if (n > 65535) throw new InvalidArgumentError(`expected a port from 0 to 65535, got ${JSON.stringify(value)}`);
  return n;
}

export function parseSize(value: string): number {
  const n = parseBytes(value);
  if (n === undefined || n <= 0) throw new InvalidArgumentError(`expected a size such as 512m or 2g, got ${JSON.stringify(value)}`);
  return n;
}

/** `90`, `90s`, `30m`, `12h`, `7d`, `2w` → seconds. */
export function parseDuration(value: string): number {
  const m = /^(\d{1,9})\s*([smhdw]?)$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration such as 90s, 30m, 12h, 7d or 2w, got ${JSON.stringify(value)}`);
  const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[m[2]!.toLowerCase() as '' | 's' | 'm' | 'h' | 'd' | 'w'];
  return Number(m[1]) * mult;
}

/** `--json` given on the command or globally (`loki --json …`). */
export function jsonMode(ctx: { globals(): { json?: boolean } }, o: { json?: boolean }): boolean {
  return o.json === true || ctx.globals().json === true;
}
