import assert from 'node:assert/strict';
import { createElement } from 'react';
import { render } from 'ink-testing-library';
import { Dashboard, type DashboardProps } from '../../../cli/src/dashboard/Dashboard.js';

export const KEY = { up: '\u001B[A', down: '\u001B[B', enter: '\r', esc: '\u001B', tab: '\t', backspace: '\u007F' };

export function mount(props: DashboardProps) {
  const inst = render(createElement(Dashboard, { pollMs: 60_000, ...props }));
  const frame = () => inst.lastFrame() ?? '';
  /** Waits until the current frame satisfies `pred` (the UI is asynchronous: streams, polls). */
  const until = async (pred: (f: string) => boolean, what: string, ms = 3000): Promise<string> => {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (pred(frame())) return frame();
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`timed out waiting for ${what}; last frame:\n${frame()}`);
  };
  const press = async (...keys: string[]) => {
    for (const k of keys) {
      inst.stdin.write(k);
      // Ink reads stdin per 'readable' event; give each key its own turn (ESC needs its timeout to pass).
      await new Promise((r) => setTimeout(r, k === KEY.esc ? 80 : 20));
    }
  };
  return { ...inst, frame, until, press };
}

export function has(frame: string, ...parts: string[]): void {
  for (const p of parts) assert.ok(frame.includes(p), `expected the screen to show ${JSON.stringify(p)}; screen:\n${frame}`);
}

export function hasNot(frame: string, ...parts: string[]): void {
  for (const p of parts) assert.ok(!frame.includes(p), `expected the screen not to show ${JSON.stringify(p)}; screen:\n${frame}`);
}

/** The options a stream was opened with include these. */
export function subset(actual: unknown, expected: Record<string, unknown>): void {
  const a = actual as Record<string, unknown>;
  for (const [k, v] of Object.entries(expected)) assert.deepEqual(a?.[k], v, `stream option ${k}`);
}
