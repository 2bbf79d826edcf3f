// commander option parsers that reject bad input with a specific message.
import { InvalidArgumentError } from 'commander';
import { parseBytes } from '../../../common/src/index.js';

export function parseIntOption(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError(`expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function parseSize(value: string): number {
  const n = parseBytes(value);
  if (n === undefined || n <= 0) throw new InvalidArgumentError(`expected a size such as 512m or 2g, got ${JSON.stringify(value)}`);
  return n;
}
