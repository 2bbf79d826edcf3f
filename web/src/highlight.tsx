// A small syntax highlighter for unified diffs: per-file sections, added/removed
// lines, and within each line strings, comments, numbers and common keywords.
// Output is Preact nodes with classes only (the CSP forbids inline style).
import type { ComponentChildren } from 'preact';
import { escapeForDisplay } from './util.js';

export interface PatchFile {
  path: string;
  lines: string[];
}

export function splitPatch(patch: string): PatchFile[] {
  const files: PatchFile[] = [];
  for (const line of patch.split('\n')) {
    const m = /^diff --git a\/(.*) b\/(.*)$/.exec(line);
    if (m) files.push({ path: m[2]!, lines: [] });
    else if (files.length) files[files.length - 1]!.lines.push(line);
  }
  return files;
}

const KEYWORDS = new Set(
  'as async await break case catch class const continue def default del do elif else enum export extends false final finally fn for from func function go if impl import in interface let match module mut new nil none null package pass private pub public raise return self static struct super switch this throw true try type typeof use var void while with yield'.split(' '),
);
const TOKEN = /(\/\/.*$|#.*$|\/\*.*?\*\/|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|\b\d+(?:\.\d+)?\b|\b[A-Za-z_][A-Za-z0-9_]*\b)/g;

function tokens(code: string): ComponentChildren[] {
  const out: ComponentChildren[] = [];
  let last = 0;
  for (const m of code.matchAll(TOKEN)) {
    const t = m[0];
    const i = m.index ?? 0;
    if (i > last) out.push(code.slice(last, i));
    const c = t.startsWith('//') || t.startsWith('#') || t.startsWith('/*') ? 'tk-c' : /^["'`]/.test(t) ? 'tk-s' : /^\d/.test(t) ? 'tk-n' : KEYWORDS.has(t) ? 'tk-k' : '';
    out.push(c ? <span class={c}>{t}</span> : t);
    last = i + t.length;
  }
  if (last < code.length) out.push(code.slice(last));
  return out;
}

export function PatchView({ file }: { file: PatchFile }) {
  return (
    <pre class="patch" tabIndex={0} aria-label={`Patch of ${file.path}`}>
      {file.lines.map((raw, i) => {
        const line = escapeForDisplay(raw);
        const cls = line.startsWith('@@') ? 'hunk' : line.startsWith('+++') || line.startsWith('---') || /^(index|new file|deleted file|similarity|rename|Binary)/.test(line) ? 'meta' : line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : 'ctx';
        const body = cls === 'add' || cls === 'del' || cls === 'ctx' ? [line.slice(0, 1), ...tokens(line.slice(1))] : [line];
        return (
          <span key={i} class={`ln ${cls}`}>
            {body}
            {'\n'}
          </span>
        );
      })}
    </pre>
  );
}
