// The container's two contexts (STYLE.md "Ink"): screens read DashboardState
// and call DashboardActions; neither they nor the hooks' consumers ever touch
// a socket — every call goes through the LokiClient the container was given.
import { createContext, useContext } from 'react';
import type { Approval, Sandbox, Status, TransportInfo } from '../../../client/src/index.js';
import type { ScreenName, Theme } from './model.js';
import type { SessionsState } from './hooks/useSessions.js';
import type { SessionDetailState } from './hooks/useSessionDetail.js';
import type { ApprovalsState } from './hooks/useApprovals.js';
import type { SandboxLogsState } from './hooks/useSandboxLogs.js';
import type { AuditState } from './hooks/useAudit.js';
import type { Polled } from './hooks/usePoll.js';

export type Confirm =
  | { kind: 'approve' | 'reject'; approval: Approval }
  | { kind: 'stop'; sandbox: Sandbox };

export interface UiState {
  screen: ScreenName;
  /** Selected row per screen. */
  selected: Record<ScreenName, number>;
  filters: Record<ScreenName, string>;
  /** `/` pressed: keys edit the current screen's filter. */
  filterEditing: boolean;
  openSession: string | null;
  openSandbox: string | null;
  help: boolean;
  /** Session detail and logs stick to the newest line. */
  follow: boolean;
  /** Lines scrolled up from the bottom when not following. */
  scroll: number;
  confirm: Confirm | null;
  comment: string;
  /** One-line feedback: results, refusals ("read-only …"), errors. */
  message: string | null;
  busy: boolean;
}

export interface DashboardState {
  ui: UiState;
  transport: TransportInfo;
  readonly: boolean;
  readonlyReason: string;
  theme: Theme;
  cols: number;
  rows: number;
  status: Polled<Status>;
  sessions: SessionsState;
  detail: SessionDetailState;
  approvals: ApprovalsState;
  sandboxes: Polled<Sandbox[]>;
  logs: SandboxLogsState;
  audit: AuditState;
  /** Every stream the screen depends on is live. */
  live: boolean;
}

export interface DashboardActions {
  approve(id: string, comment: string): Promise<Approval>;
  reject(id: string, comment: string): Promise<Approval>;
  stopSandbox(id: string): Promise<void>;
}

export const StateContext = createContext<DashboardState | null>(null);
export const ActionsContext = createContext<DashboardActions | null>(null);

export function useDashboardState(): DashboardState {
  const s = useContext(StateContext);
  if (!s) throw new Error('useDashboardState outside the dashboard container');
  return s;
}

export function useDashboardActions(): DashboardActions {
  const a = useContext(ActionsContext);
  if (!a) throw new Error('useDashboardActions outside the dashboard container');
  return a;
}
