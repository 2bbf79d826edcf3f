// What a human reads before deciding must be what the machine will run. Text
// that came from an agent (an action waiting for approval, an event message)
// can carry terminal escape sequences (ESC[8m hides the rest of a line), C1
// controls, bidirectional overrides (U+202E reverses what follows) and
// zero-width characters. Every surface that shows such text (CLI, HTTP API
// consumers, the dashboards) renders it through `escapeForDisplay`, which makes
// each of them visible as `\xNN` / `\uNNNN` / `\u{NNNNN}`, and never cuts it.
// Lists that must stay narrow use `shortenForDisplay`, which says how much it hid.
//
// Unambiguous: a backslash that could be read as the start of one of our
// escapes (followed by `x`, `u`, `\`, or by a character we escape) is doubled,
// so `\x1b` on screen is always an ESC Loki made visible, never the four
// characters an agent typed (those show as `\\x1b`). Other backslashes
// (`sed 's/\./x/'`) stay as typed.

/** Zero-width, invisible and bidi-control code points (plus line/paragraph separators). */
const INVISIBLE = new Set<number>([
  0x00ad, // soft hyphen
  0x034f, // combining grapheme joiner
  0x061c, // arabic letter mark
  0x115f, 0x1160, // hangul fillers
  0x17b4, 0x17b5, // khmer vowel inherent
  0x180b, 0x180c, 0x180d, 0x180e, 0x180f, // mongolian variation selectors, vowel separator
  0x200b, 0x200c, 0x200d, 0x200e, 0x200f, // zero-width space/non-joiner/joiner, LRM, RLM
  0x2028, 0x2029, // line and paragraph separator
  0x202a, 0x202b, 0x202c, 0x202d, 0x202e, // LRE, RLE, PDF, LRO, RLO
  0x2060, 0x2061, 0x2062, 0x2063, 0x2064, 0x2065, // word joiner, invisible operators
  0x2066, 0x2067, 0x2068, 0x2069, // LRI, RLI, FSI, PDI
  0x206a, 0x206b, 0x206c, 0x206d, 0x206e, 0x206f, // deprecated format characters
  0x3164, // hangul filler
  0xfeff, // zero-width no-break space / BOM
  0xffa0, // halfwidth hangul filler
  0xfff9, 0xfffa, 0xfffb, // interlinear annotation
]);

/** True for a code point that must not reach a terminal or a page as itself. */
export function needsEscape(cp: number): boolean {
  if (cp < 0x20 || cp === 0x7f) return true; // C0 controls (ESC, CR, LF, TAB, BEL …) and DEL
  if (cp >= 0x80 && cp <= 0x9f) return true; // C1 controls (CSI 0x9b acts like ESC[)
  if (INVISIBLE.has(cp)) return true;
  if (cp >= 0xfe00 && cp <= 0xfe0f) return true; // variation selectors
  if (cp >= 0xe0000 && cp <= 0xe007f) return true; // tag characters (invisible "ASCII smuggling")
  if (cp >= 0xe0100 && cp <= 0xe01ef) return true; // variation selectors supplement
  if (cp >= 0xd800 && cp <= 0xdfff) return true; // a lone surrogate
  return false;
}

function escapeCodePoint(cp: number): string {
  if (cp <= 0xff) return `\\x${cp.toString(16).padStart(2, '0')}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).padStart(4, '0')}`;
  return `\\u{${cp.toString(16)}}`;
}

/** The text as display tokens: one per code point, escaped where needed. */
function tokens(text: string): string[] {
  const cps: number[] = [];
  // Iterate by UTF-16 unit so a lone surrogate stays one (escaped) unit.
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        cps.push((c - 0xd800) * 0x400 + (d - 0xdc00) + 0x10000);
        i++;
        continue;
      }
    }
    cps.push(c);
  }
  const out: string[] = [];
  for (let i = 0; i < cps.length; i++) {
    const cp = cps[i]!;
    if (needsEscape(cp)) {
      out.push(escapeCodePoint(cp));
    } else if (cp === 0x5c) {
      const next = cps[i + 1];
      const ambiguous = next !== undefined && (next === 0x78 || next === 0x75 || next === 0x5c || needsEscape(next));
      out.push(ambiguous ? '\\\\' : '\\');
    } else {
      out.push(String.fromCodePoint(cp));
    }
  }
  return out;
}

/** The whole text, every control/bidi/invisible character shown as an escape. Never truncated. */
export function escapeForDisplay(text: string): string {
  return tokens(text).join('');
}

/**
 * Multi-line text from an agent (a command's output in an event) as display
 * lines: each line goes through `escapeForDisplay` on its own, so the line feeds
 * are the only characters not shown as escapes (CR, ESC, bidi … still are), and
 * a final line feed adds no empty line. Every surface prints the lines after the
 * first one indented under their entry (CLI `│`, a block on the web), so output
 * can never pass for an entry of its own. One-line lists use `firstLineForDisplay`.
 */
export function displayLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines.map(escapeForDisplay);
}

/** The first display line, and how many more there are: `exit 0 [+9 lines]`. */
export function firstLineForDisplay(text: string): string {
  const lines = displayLines(text);
  return lines.length > 1 ? `${lines[0]} [+${lines.length - 1} line${lines.length === 2 ? '' : 's'}]` : (lines[0] ?? '');
}

/** True when `escapeForDisplay(text)` differs from the text (something was made visible). */
export function hasHiddenCharacters(text: string): boolean {
  for (const ch of text) if (needsEscape(ch.codePointAt(0)!)) return true;
  return /[\ud800-\udfff]/.test(text.replace(/[\ud800-\udbff][\udc00-\udfff]/g, ''));
}

/**
 * For lists only (never where someone decides): the escaped text cut to at most
 * `max` display characters, ending in an explicit marker that names how much is
 * hidden, e.g. `rm -rf build; curl … [+42 chars hidden]`. Escapes are never split.
 */
export function shortenForDisplay(text: string, max: number): string {
  const toks = tokens(text);
  const full = toks.join('');
  if (full.length <= max) return full;
  let used = 0;
  let kept = 0;
  for (; kept < toks.length; kept++) {
    const marker = ` … [+${toks.length - kept} chars hidden]`;
    if (used + toks[kept]!.length + marker.length > max && kept > 0) break;
    used += toks[kept]!.length;
  }
  // The marker counts original characters (code points), which is what was cut.
  return `${toks.slice(0, kept).join('')} … [+${toks.length - kept} chars hidden]`;
}

/** `1 file`, `2 files`: a count with its noun in the right number. */
/** 2147483648 → "2.0 GiB", 10737418240 → "10 GiB", 0 → "0 B"; the input side is `parseBytes` (config.ts). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(v >= 10 ? 0 : 1)} ${units[i]}`;
}

export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}
