// The corpus: hundreds of dangerous spellings that must never be allowed, and
// hundreds of ordinary development commands that must not be slowed by approvals.
import assert from 'node:assert/strict';
import { engineFor, loadCorpus } from './helpers.js';

describe('policy corpus', function () {
  const engine = engineFor();
  const decide = (command: string, profile?: string) => engine.decide({ kind: 'shell', command }, { sessionId: 'corpus', ...(profile ? { profile } : {}) });

  it('holds at least 200 dangerous and 200 ordinary commands', function () {
    const dangerous = loadCorpus('dangerous.txt');
    const ordinary = loadCorpus('ordinary.txt');
    process.stdout.write(`      corpus: ${dangerous.length} dangerous, ${ordinary.length} ordinary\n`);
    assert.ok(dangerous.length >= 200, `only ${dangerous.length} dangerous commands`);
    assert.ok(ordinary.length >= 200, `only ${ordinary.length} ordinary commands`);
  });

  it('denies or asks for every dangerous spelling under the default profile', function () {
    const allowed: string[] = [];
    const tally = { deny: 0, ask: 0 };
    for (const c of loadCorpus('dangerous.txt')) {
      const d = decide(c);
      if (d.decision === 'allow') allowed.push(`${JSON.stringify(c)} → ${d.normalized}`);
      else tally[d.decision] += 1;
    }
    process.stdout.write(`      dangerous: ${tally.deny} denied, ${tally.ask} asked, ${allowed.length} allowed\n`);
    assert.deepEqual(allowed, []);
  });

  it('never allows a dangerous spelling under the strict profile either, and asks for none of them as unresolvable', function () {
    for (const c of loadCorpus('dangerous.txt')) {
      const d = decide(c, 'strict');
      assert.notEqual(d.decision, 'allow', c);
      if (d.rule.startsWith('unresolved:')) assert.equal(d.decision, 'deny', `strict must fail closed to deny: ${c}`);
    }
  });

  it('allows every ordinary development command under the default profile', function () {
    const blocked: string[] = [];
    for (const c of loadCorpus('ordinary.txt')) {
      const d = decide(c);
      if (d.decision !== 'allow') blocked.push(`${JSON.stringify(c)}: ${d.decision} (${d.rule}: ${d.reason})`);
    }
    process.stdout.write(`      ordinary: ${loadCorpus('ordinary.txt').length - blocked.length} allowed, ${blocked.length} not\n`);
    assert.deepEqual(blocked, []);
  });
});
