// The policy holes as classes, generated rather than listed: every copier with
// every spelling of its target-directory option, every GNU abbreviation of the
// long options the engine knows, every in-place editor and archive extractor,
// and fork-bomb recursion through any number of functions. A new spelling of a
// class member must be caught without a new string in a list.
import assert from 'node:assert/strict';
import { TOOL_OPTIONS, resolveLong } from '../../../daemon/src/policy/shell/options.js';
import { normalizeArgv } from '../../../daemon/src/policy/shell/normalize.js';
import { engineFor } from './helpers.js';

const engine = engineFor();
const decide = (command: string) => engine.decide({ kind: 'shell', command }, { sessionId: 'classes' });
const FORBIDDEN_DIRS = ['/etc', '/usr/local/bin', '.git/hooks', '.github/workflows', '/workspace/.git/hooks'];

function expectNotAllowed(commands: string[]): void {
  const allowed = commands.filter((c) => decide(c).decision === 'allow');
  assert.deepEqual(allowed, [], `${allowed.length} of ${commands.length} allowed`);
}

/** Every prefix of `name` that the program takes as `name` (unambiguous among its long options). */
function abbreviations(program: string, name: string): string[] {
  const spec = TOOL_OPTIONS[program]!;
  const out: string[] = [];
  for (let i = 1; i <= name.length; i++) if (resolveLong(spec, name.slice(0, i)) === name) out.push(name.slice(0, i));
  return out;
}

describe('policy classes (generated corpus)', function () {
  it('denies every spelling of every copier\'s target directory outside or into a protected path', function () {
    const cmds: string[] = [];
    for (const tool of ['cp', 'mv', 'install', 'ln']) {
      const flagsFor = (d: string) => [`-t ${d}`, `-t${d}`, ...abbreviations(tool, 'target-directory').flatMap((a) => [`--${a}=${d}`, `--${a} ${d}`])];
      const cluster = tool === 'ln' ? '-s' : tool === 'install' ? '-D' : '-f';
      for (const d of FORBIDDEN_DIRS) {
        for (const f of flagsFor(d)) cmds.push(`${tool} ${f} x`, `${tool} ${cluster} ${f} x y`);
        cmds.push(`${tool} ${cluster}t ${d} x`);
      }
    }
    assert.ok(cmds.length > 300, `${cmds.length} commands`);
    expectNotAllowed(cmds);
  });

  it('reads every unambiguous abbreviation of a known long option as that option', function () {
    for (const [program, spec] of Object.entries(TOOL_OPTIONS)) {
      for (const [name, opt] of Object.entries(spec.long)) {
        const canonical = opt.short ?? `--${name}`;
        for (const a of abbreviations(program, name)) {
          const n = normalizeArgv([program, opt.arity === 'required' ? `--${a}=v` : `--${a}`, 'x'].map((text) => ({ text, dynamic: 'none' as const })));
          assert.ok(n.flags.includes(canonical), `${program} --${a} → ${n.flags.join(' ')} (want ${canonical})`);
        }
      }
    }
    expectNotAllowed(['rm -r --no-pres /tmp/x', 'rm --no-preserve /tmp/x', 'rm --recu --fo /', 'rm --recursiv /usr']);
  });

  it('denies a copy whose destination directory would receive a protected name', function () {
    const cmds: string[] = [];
    for (const tool of ['cp -r', 'mv', 'cp', 'ln -s', 'install']) {
      for (const [src, dir] of [['hooks', '.git'], ['config', '.git'], ['workflows', '.github'], ['x/hooks', '.git/'], ['passwd', '/etc']]) cmds.push(`${tool} ${src} ${dir}`);
    }
    cmds.push('cp -r src/. .git', 'cp -a ./. .git/', 'cp -r * .git');
    expectNotAllowed(cmds);
  });

  it('treats every in-place editor as a writer of its files', function () {
    const cmds: string[] = [];
    const editors = ["sed -i 's/a/b/'", "sed -i.bak -e 's/a/b/'", "sed --in-place=.orig 's/a/b/'", "sed --in-pl 's/a/b/'", "sed -ni 's/a/b/p'", "sed -e 's/a/b/' -i",
      "perl -pi -e 's/a/b/'", "perl -i.bak -pe 's/a/b/'", "perl -p -i -e 's/a/b/'", "ruby -i -pe 'x'", "gawk -i inplace '{print}'", "awk -i inplace -v x=1 '{print}'"];
    for (const e of editors) for (const f of ['.git/config', '/etc/hosts', '.github/workflows/ci.yml', '.gitmodules']) cmds.push(`${e} ${f}`);
    expectNotAllowed(cmds);
    assert.equal(decide("sed -i 's/a/b/' src/app.ts").decision, 'allow');
  });

  it('treats every archive extractor as writing unknown names into its target directory', function () {
    const cmds: string[] = [];
    for (const d of ['.git', '.github', '/etc', '/usr/local', '.git/hooks']) {
      cmds.push(`tar -xf h.tar -C ${d}`, `tar xf h.tar -C ${d}`, `tar -x -f h.tar --directory=${d}`, `tar --extract --file h.tar --dir ${d}`, `tar -xzf h.tgz -C${d}`);
      cmds.push(`unzip h.zip -d ${d}`, `unzip -o h.zip -d${d}`, `cpio -i -D ${d}`, `cpio --extract --directory=${d}`, `7z x h.7z -o${d}`, `bsdtar -xf h.tar -C ${d}`);
    }
    expectNotAllowed(cmds);
    for (const ok of ['tar -xzf a.tgz -C vendor', 'tar xzf a.tgz', 'unzip -q a.zip -d deps', 'tar -tf a.tar']) assert.equal(decide(ok).decision, 'allow', ok);
  });

  it('denies recursion that forks through any number of functions, and allows plain helper calls', function () {
    const names = ['a', 'b', 'c', 'd'];
    for (let len = 1; len <= names.length; len++) {
      for (let forkAt = 0; forkAt < len; forkAt++) {
        for (const fork of ['X|X&', 'X & X', 'X | X', 'X &']) {
          const defs = names.slice(0, len).map((f, i) => {
            const next = names[(i + 1) % len]!;
            return `${f}(){ ${i === forkAt ? fork.replace(/X/g, next) : `${next};`} }`;
          });
          const cmd = `${defs.join('; ')}; a`;
          assert.equal(decide(cmd).decision, 'deny', cmd);
        }
      }
    }
    for (const ok of ['a(){ b; }; b(){ echo hi | cat; }; a', 'f(){ echo x & }; f; f', 'a(){ b | cat; }; b(){ echo; }; a']) assert.equal(decide(ok).decision, 'allow', ok);
  });
});
