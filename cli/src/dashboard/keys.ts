// The key handler: one pure-ish function from (state, key) to a UI update or an
// action request, so every screen's keys live in one place and `--readonly`
// is enforced where the keys are read, not screen by screen.
import type { Key } from 'ink';
import type { Confirm, DashboardState, UiState } from './context.js';
import { TABS, type ScreenName } from './model.js';
import { sessionApprovals, visibleApprovals, visibleAudit, visibleSandboxes, visibleSessions } from './select.js';

export type KeyResult =
  | { kind: 'ui'; patch: Partial<UiState> }
  | { kind: 'quit' }
  | { kind: 'submit'; confirm: Confirm; comment: string }
  | { kind: 'none' };

function listLength(s: DashboardState, screen: ScreenName): number {
  switch (screen) {
    case 'sessions':
      return visibleSessions(s).length;
    case 'approvals':
      return visibleApprovals(s).length;
    case 'sandboxes':
      return visibleSandboxes(s).length;
    case 'audit':
      return visibleAudit(s).length;
    default:
      return 0;
  }
}

const READONLY_MSG = (what: string, why: string) => `read-only: ${what} is disabled (${why})`;

export function handleKey(s: DashboardState, input: string, key: Key): KeyResult {
  const ui = s.ui;
  const ui$ = (patch: Partial<UiState>): KeyResult => ({ kind: 'ui', patch: { message: null, ...patch } });
  if (key.ctrl && input === 'c') return { kind: 'quit' };

  if (ui.confirm) {
    if (ui.busy) return { kind: 'none' };
    if (key.escape) return ui$({ confirm: null, comment: '', message: 'cancelled' });
    if (key.return) return { kind: 'submit', confirm: ui.confirm, comment: ui.comment.trim() };
    if (ui.confirm.kind === 'stop') return { kind: 'none' };
    if (key.backspace || key.delete) return { kind: 'ui', patch: { comment: ui.comment.slice(0, -1) } };
    if (input && !key.ctrl && !key.meta && ui.comment.length < 500) return { kind: 'ui', patch: { comment: ui.comment + input.replace(/[\x00-\x1f\x7f]/g, '') } };
    return { kind: 'none' };
  }

  if (ui.filterEditing) {
    const f = ui.filters[ui.screen];
    if (key.escape) return ui$({ filterEditing: false, filters: { ...ui.filters, [ui.screen]: '' } });
    if (key.return) return ui$({ filterEditing: false });
    if (key.backspace || key.delete) return ui$({ filters: { ...ui.filters, [ui.screen]: f.slice(0, -1) }, selected: { ...ui.selected, [ui.screen]: 0 } });
    if (input && !key.ctrl && !key.meta) return ui$({ filters: { ...ui.filters, [ui.screen]: f + input.replace(/[\x00-\x1f\x7f]/g, '') }, selected: { ...ui.selected, [ui.screen]: 0 } });
    return { kind: 'none' };
  }

  if (ui.help) return key.escape || input === '?' || input === 'q' ? ui$({ help: false }) : { kind: 'none' };
  if (input === 'q') return { kind: 'quit' };
  if (input === '?') return ui$({ help: true });

  if (key.escape) {
    if (ui.screen === 'session') return ui$({ screen: 'sessions', openSession: null });
    if (ui.screen === 'logs') return ui$({ screen: 'sandboxes', openSandbox: null });
    if (ui.filters[ui.screen]) return ui$({ filters: { ...ui.filters, [ui.screen]: '' } });
    return { kind: 'none' };
  }
  const tabIndex = '1234'.indexOf(input);
  if (tabIndex >= 0 && input !== '') return ui$({ screen: TABS[tabIndex]!, openSession: null, openSandbox: null });
  if (key.tab) {
    const i = TABS.indexOf(ui.screen);
    return ui$({ screen: TABS[(i + (key.shift ? TABS.length - 1 : 1)) % TABS.length]!, openSession: null, openSandbox: null });
  }

  const streaming = ui.screen === 'session' || ui.screen === 'logs';
  if (streaming) {
    if (input === 'f') return ui$({ follow: !ui.follow, scroll: 0, message: ui.follow ? 'follow off' : 'following' });
    if (key.upArrow || input === 'k') return ui$({ follow: false, scroll: ui.scroll + 1 });
    if (key.downArrow || input === 'j') return ui$({ scroll: Math.max(0, ui.scroll - 1), follow: ui.scroll <= 1 });
  } else {
    const n = listLength(s, ui.screen);
    const cur = ui.selected[ui.screen];
    if (key.upArrow || input === 'k') return ui$({ selected: { ...ui.selected, [ui.screen]: Math.max(0, cur - 1) } });
    if (key.downArrow || input === 'j') return ui$({ selected: { ...ui.selected, [ui.screen]: Math.max(0, Math.min(n - 1, cur + 1)) } });
    if (input === '/') return ui$({ filterEditing: true });
  }

  if (key.return) {
    if (ui.screen === 'sessions') {
      const sel = visibleSessions(s)[ui.selected.sessions];
      if (sel) return ui$({ screen: 'session', openSession: sel.id, follow: true, scroll: 0 });
    }
    if (ui.screen === 'sandboxes') {
      const sel = visibleSandboxes(s)[ui.selected.sandboxes];
      if (sel) return ui$({ screen: 'logs', openSandbox: sel.id, follow: true, scroll: 0 });
    }
    return { kind: 'none' };
  }

  if (input === 'a' || input === 'r') {
    const target = ui.screen === 'approvals' ? visibleApprovals(s)[ui.selected.approvals] : ui.screen === 'session' ? sessionApprovals(s)[0] : undefined;
    const verb = input === 'a' ? 'approving' : 'rejecting';
    if (s.readonly) return ui$({ message: READONLY_MSG(verb, s.readonlyReason) });
    if (ui.screen !== 'approvals' && ui.screen !== 'session') return ui$({ message: `${verb} works on the approvals screen (2) or an open session` });
    if (!target) return ui$({ message: 'nothing is waiting for approval here' });
    return ui$({ confirm: { kind: input === 'a' ? 'approve' : 'reject', approval: target }, comment: '' });
  }
  if (input === 's' && ui.screen === 'sandboxes') {
    if (s.readonly) return ui$({ message: READONLY_MSG('stopping a sandbox', s.readonlyReason) });
    const sel = visibleSandboxes(s)[ui.selected.sandboxes];
    if (!sel) return ui$({ message: 'no sandbox selected' });
    return ui$({ confirm: { kind: 'stop', sandbox: sel } });
  }
  return { kind: 'none' };
}
