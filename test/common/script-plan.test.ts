// The script plan parser's messages: a plan written in YAML by hand hits YAML's
// scalar typing (`run: false`, `task: 1`), and the message must say so.
import assert from 'node:assert/strict';
import { parseScriptPlan, PlanError } from '../../common/src/script-plan.js';

function refusal(text: string): string {
  try {
    parseScriptPlan(text);
  } catch (err) {
    assert.ok(err instanceof PlanError, `expected a PlanError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the plan was accepted');
}

describe('script plan: what a refusal says', () => {
  it('an unquoted YAML boolean or number as a command says YAML read it that way and how to quote it', () => {
    assert.equal(
      refusal('- run: "true"\n- run: false\n'),
      'step 2: "run" needs a shell command, e.g. {"run": "npm test"} (YAML read run: false as a boolean, not text: quote it, run: "false")',
    );
    assert.match(refusal('- commit: 2024\n'), /step 1: "commit" needs a commit message.*\(YAML read commit: 2024 as a number, not text: quote it, commit: "2024"\)$/);
    assert.match(refusal('- write: a.txt\n  content: x\n  task: 1\n'), /^step 1: "task" is a non-empty string \(YAML read task: 1 as a number, not text: quote it, task: "1"\)$/);
    assert.match(refusal('- run:\n'), /^step 1: "run" needs a shell command, e\.g\. \{"run": "npm test"\} \(it is empty\)$/);
  });

  it('a quoted command of the same words runs', () => {
    assert.deepEqual(parseScriptPlan('- run: "false"\n- commit: "2024"\n  task: "1"\n'), [{ run: 'false' }, { commit: '2024', task: '1' }]);
  });

  it('sleep keeps its own message (a number is what it wants)', () => {
    assert.match(refusal('- sleep: "500"\n'), /^step 1: "sleep" needs a number of milliseconds from 0 to 600000$/);
  });
});
