import assert from 'node:assert/strict';
import { LokiError, checkText, textProblem } from '../../common/src/index.js';

describe('checkText (free text a caller asks the daemon to keep)', () => {
  it('passes visible text of any script through unchanged', () => {
    assert.equal(checkText('model', 'gpt-4o-mini', { max: 200 }), 'gpt-4o-mini');
    assert.equal(checkText('model', 'modèle 漢字 🙂', { max: 200 }), 'modèle 漢字 🙂');
    assert.equal(checkText('model', '', { max: 200 }), '');
  });

  it('refuses a one-line value with a control, bidi or invisible character, naming the field, the character and where', () => {
    for (const [value, shown, at] of [
      ['gpt\u001b[31m', '\\x1b', 3],
      ['a\nb', '\\x0a', 1],
      ['a\tb', '\\x09', 1],
      ['\u0000', '\\x00', 0],
      ['x\u009b', '\\x9b', 1],
      ['x\u202ey', '\\u202e', 1],
      ['x\u200by', '\\u200b', 1],
      ['🙂\ud800', '\\ud800', 2],
    ] as const) {
      assert.throws(
        () => checkText('model', value, { max: 200 }),
        (e: LokiError) => e instanceof LokiError && e.code === 'invalid_argument' && e.message.includes(`(${shown} at position ${at})`) && e.message.startsWith('model contains'),
        JSON.stringify(value),
      );
    }
  });

  it('lets prose keep its line feeds, tabs and emoji, but not escapes, carriage returns or bidi overrides', () => {
    const rule = { max: 2000, multiline: true };
    assert.equal(textProblem('comment', 'looks good\n\t- ran the tests 👍🏽 ❤️ 👨‍👩‍👧', rule), undefined);
    assert.match(textProblem('comment', 'ok\u001b[8m', rule) ?? '', /^comment contains a control character \(\\x1b at position 2\)$/);
    assert.match(textProblem('comment', 'no\rapproved', rule) ?? '', /\\x0d/);
    assert.match(textProblem('comment', 'ok \u2066x', rule) ?? '', /bidi-control character \(\\u2066/);
  });

  it('refuses an absurd length before looking at the characters', () => {
    assert.equal(textProblem('model', 'm'.repeat(201), { max: 200 }), 'model is longer than 200 characters (201)');
    assert.equal(textProblem('model', 'm'.repeat(200), { max: 200 }), undefined);
  });
});
