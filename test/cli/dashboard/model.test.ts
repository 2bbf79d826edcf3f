import assert from 'node:assert/strict';
import { backoffDelay } from '../../../cli/src/dashboard/stream.js';
import { themeFromEnv, windowAround } from '../../../cli/src/dashboard/model.js';
import { fixture } from './fixture-client.js';
import { mount } from './helpers.js';

describe('loki dashboard terminal settings', () => {
  it('turns colour off for NO_COLOR and uses ASCII for TERM=dumb', () => {
    assert.deepEqual(themeFromEnv({ TERM: 'xterm-256color' }), { color: true, ascii: false });
    assert.deepEqual(themeFromEnv({ TERM: 'xterm', NO_COLOR: '1' }), { color: false, ascii: false });
    assert.deepEqual(themeFromEnv({ TERM: 'xterm', NO_COLOR: '' }), { color: true, ascii: false }, 'an empty NO_COLOR does not count (no-color.org)');
    assert.deepEqual(themeFromEnv({ TERM: 'dumb' }), { color: false, ascii: true });
  });

  it('marks the selection with an ASCII glyph on a dumb terminal', async () => {
    const { session } = await import('./fixture-client.js');
    const f = fixture({ sessions: [session('ses-1')] });
    const m = mount({ client: f.client, theme: themeFromEnv({ TERM: 'dumb' }) });
    try {
      const fr = await m.until((x) => x.includes('ses-1'), 'list');
      assert.match(fr, /^> ses-1/m);
      assert.ok(!fr.includes('›'));
    } finally {
      m.unmount();
    }
  });

  it('backs off 0.5 s, 1 s, 2 s … up to 10 s', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n)), [500, 1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('keeps the selected row inside the visible window', () => {
    assert.deepEqual(windowAround(1000, 0, 20), { start: 0, end: 20 });
    assert.deepEqual(windowAround(1000, 500, 20), { start: 490, end: 510 });
    assert.deepEqual(windowAround(1000, 999, 20), { start: 980, end: 1000 });
    assert.deepEqual(windowAround(5, 4, 20), { start: 0, end: 5 });
  });
});
