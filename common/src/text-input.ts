// Free text that a caller hands the daemon to keep (a session's model, a
// project name to look up, a task in a plan, an approval comment) is refused
// when it holds a character no one types on purpose: a terminal escape (ESC[31m),
// NUL, a line break in a one-line value, a C1 control, a bidi override or a
// zero-width character. Stored, such a value would be shown later by the CLI,
// the dashboards and every API consumer, and written to logs, where it can
// forge lines or hide text. The display escaping (display.ts) still protects the
// screens; this keeps the records clean and tells the caller at once.
//
// One rule, used by the daemon (which re-checks everything: the gateway is not
// trusted) and by the plan parser both sides share.
import { LokiError } from './errors.js';
import { escapeForDisplay, needsEscape } from './display.js';

export interface TextRule {
  /** At most this many characters (UTF-16 units, as `maxLength` in the HTTP schemas counts). */
  max: number;
  /**
   * Prose someone typed in a text box (an approval comment): line feeds and tabs are
   * fine, and so are the joiners and variation selectors emoji are made of. Control
   * characters, bidi overrides and lone surrogates are still refused.
   */
  multiline?: boolean;
}

/** Bidi embeddings, overrides and isolates: they reorder what is shown after them. */
function isBidiControl(cp: number): boolean {
  return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

function refused(cp: number, multiline: boolean): boolean {
  if (!multiline) return needsEscape(cp);
  if (cp === 0x0a || cp === 0x09) return false;
  if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp <= 0x9f)) return true;
  return isBidiControl(cp) || (cp >= 0xd800 && cp <= 0xdfff);
}

/** What is wrong with `value` as the field `field`, or undefined when nothing is. */
export function textProblem(field: string, value: string, rule: TextRule): string | undefined {
  if (value.length > rule.max) return `${field} is longer than ${rule.max} characters (${value.length})`;
  let i = 0;
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    // `for…of` yields a lone surrogate as itself, so it is seen here too.
    if (refused(cp, rule.multiline === true)) {
      const what = cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp <= 0x9f) ? 'a control character' : 'an invisible or bidi-control character';
      return `${field} contains ${what} (${escapeForDisplay(ch)} at position ${i})${rule.multiline ? '' : '; it must be a single line of visible text'}`;
    }
    i += ch.length;
  }
  return undefined;
}

/** `value` unchanged, or an invalid_argument LokiError naming the field and the character. */
export function checkText(field: string, value: string, rule: TextRule): string {
  const problem = textProblem(field, value, rule);
  if (problem) throw new LokiError('invalid_argument', problem);
  return value;
}
