// The container: owns every stream hook and the UI state, exposes them through
// StateContext / ActionsContext, and routes keys through handleKey.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Box, Text, useApp, useInput, useStdout } from 'ink';
import { escapeForDisplay, shortenForDisplay } from '../../../common/src/index.js';
import type { LokiClient, Sandbox, Status } from '../../../client/src/index.js';
import { ActionsContext, StateContext, type DashboardActions, type DashboardState, type UiState } from './context.js';
import { TABS, type Theme } from './model.js';
import type { BackoffOptions } from './stream.js';
import { handleKey } from './keys.js';
import { useSessions } from './hooks/useSessions.js';
import { useSessionDetail } from './hooks/useSessionDetail.js';
import { useApprovals } from './hooks/useApprovals.js';
import { usePoll } from './hooks/usePoll.js';
import { useSandboxLogs } from './hooks/useSandboxLogs.js';
import { useAudit } from './hooks/useAudit.js';
import { SessionsScreen } from './screens/Sessions.js';
import { SessionDetailScreen } from './screens/SessionDetail.js';
import { ApprovalsScreen, ConfirmView } from './screens/Approvals.js';
import { LogsScreen, SandboxesScreen } from './screens/Sandboxes.js';
import { AuditScreen } from './screens/Audit.js';
import { HelpScreen } from './screens/Help.js';
import { StatusBar } from './screens/StatusBar.js';
import { C } from './ui.js';

export interface DashboardProps {
  client: LokiClient;
  theme: Theme;
  /** `--readonly`; when undefined, read-only follows the token's scopes (no `control` → read-only). */
  readonly?: boolean;
  /** Initial status (the command fetched it to decide read-only); optional. */
  initialStatus?: Status;
  backoff?: BackoffOptions;
  pollMs?: number;
}

const EMPTY = { sessions: 0, session: 0, approvals: 0, sandboxes: 0, logs: 0, audit: 0 };
const NO_FILTERS = { sessions: '', session: '', approvals: '', sandboxes: '', logs: '', audit: '' };

function initialUi(): UiState {
  return { screen: 'sessions', selected: { ...EMPTY }, filters: { ...NO_FILTERS }, filterEditing: false, openSession: null, openSandbox: null, help: false, follow: true, scroll: 0, confirm: null, comment: '', message: null, busy: false };
}

/** Terminal size, updated on resize (Ink redraws the whole frame; rows bound every list so nothing tears). */
function useSize(): { cols: number; rows: number } {
  const { stdout } = useStdout();
  const get = () => ({ cols: stdout.columns || 100, rows: stdout.rows || 24 });
  const [size, setSize] = useState(get);
  useEffect(() => {
    const on = () => setSize(get());
    stdout.on('resize', on);
    return () => void stdout.off('resize', on);
  }, [stdout]);
  return size;
}

export function Dashboard(props: DashboardProps) {
  const { client } = props;
  const { exit } = useApp();
  const { cols, rows } = useSize();
  const [ui, setUi] = useState<UiState>(initialUi);
  const pollMs = props.pollMs ?? 3000;
  const status = usePoll(() => client.status(), pollMs, true, [client]);
  const statusValue = status.value ?? props.initialStatus ?? null;
  const scopes = statusValue?.caller.scopes ?? [];
  const canControl = scopes.includes('*') || scopes.includes('control');
  const readonly = props.readonly ?? (statusValue ? !canControl : true);
  const readonlyReason = props.readonly ? '--readonly' : statusValue ? `token scopes ${scopes.join(',') || 'none'} lack control` : 'caller unknown until the daemon answers';
  const canAudit = statusValue ? scopes.includes('*') || scopes.includes('audit') : false;

  const sessions = useSessions(client, props.backoff);
  const approvals = useApprovals(client, props.backoff);
  const detail = useSessionDetail(client, ui.screen === 'session' ? ui.openSession : null, props.backoff);
  const sandboxes = usePoll<Sandbox[]>(() => client.sandboxes.list({ all: true }), pollMs, ui.screen === 'sandboxes', [client]);
  const logs = useSandboxLogs(client, ui.screen === 'logs' ? ui.openSandbox : null, props.backoff);
  const audit = useAudit(client, ui.screen === 'audit' && canAudit, props.backoff);
  // The transports resume streams on their own while the daemon is away, so a
  // quiet stream proves nothing: the health poll decides whether data is live.
  const live = sessions.link.state === 'live' && approvals.link.state === 'live' && !status.stale;
  const wasDown = useRef(false);
  useEffect(() => {
    if (status.stale) wasDown.current = true;
    else if (wasDown.current && status.at) {
      wasDown.current = false;
      sessions.resync();
      approvals.resync();
    }
  }, [status.stale, status.at]);

  const state: DashboardState = {
    ui, transport: client.transport, readonly, readonlyReason, theme: props.theme, cols, rows,
    status: { ...status, value: statusValue }, sessions, detail, approvals, sandboxes, logs, audit, live,
  };

  const actions: DashboardActions = useMemo(
    () => ({
      approve: (id, comment) => client.approvals.approve(id, comment ? { comment } : {}),
      reject: (id, comment) => client.approvals.reject(id, comment ? { comment } : {}),
      stopSandbox: async (id) => {
        await client.sandboxes.stop(id);
      },
    }),
    [client],
  );

  const submit = useCallback(
    async (confirm: NonNullable<UiState['confirm']>, comment: string) => {
      setUi((u) => ({ ...u, busy: true }));
      try {
        let message: string;
        if (confirm.kind === 'stop') {
          await actions.stopSandbox(confirm.sandbox.id);
          sandboxes.refresh();
          message = `stopped ${confirm.sandbox.id}`;
        } else {
          const fn = confirm.kind === 'approve' ? actions.approve : actions.reject;
          const done = await fn(confirm.approval.id, comment);
          message = `${done.status} ${done.id}: ${shortenForDisplay(done.action, 60)}`;
        }
        setUi((u) => ({ ...u, busy: false, confirm: null, comment: '', message }));
      } catch (err) {
        setUi((u) => ({ ...u, busy: false, confirm: null, comment: '', message: `failed: ${escapeForDisplay((err as Error)?.message ?? String(err))}` }));
      }
    },
    [actions, sandboxes],
  );

  // Keys are read against the newest state, including patches made by keys
  // that arrived in the same tick (a pasted filter), not the render that
  // registered the handler.
  const latest = useRef(state);
  latest.current = state;
  useInput((input, key) => {
    const r = handleKey(latest.current, input, key);
    if (r.kind === 'quit') exit();
    else if (r.kind === 'ui') {
      latest.current = { ...latest.current, ui: { ...latest.current.ui, ...r.patch } };
      setUi((u) => ({ ...u, ...r.patch }));
    } else if (r.kind === 'submit') void submit(r.confirm, r.comment);
  });

  // Header (1) + filter line (1) + status bar (2) stay; the body gets the rest.
  const body = Math.max(5, rows - 4);
  let screen;
  if (ui.help) screen = <HelpScreen />;
  else if (ui.confirm) screen = <ConfirmView confirm={ui.confirm} comment={ui.comment} busy={ui.busy} />;
  else if (ui.screen === 'session' && ui.openSession) screen = <SessionDetailScreen height={body} />;
  else if (ui.screen === 'approvals') screen = <ApprovalsScreen height={body} />;
  else if (ui.screen === 'sandboxes') screen = <SandboxesScreen height={body} />;
  else if (ui.screen === 'logs' && ui.openSandbox) screen = <LogsScreen height={body} />;
  else if (ui.screen === 'audit') screen = <AuditScreen height={body} />;
  else screen = <SessionsScreen height={body} />;
  const filter = ui.filters[ui.screen];

  return (
    <StateContext.Provider value={state}>
      <ActionsContext.Provider value={actions}>
        <Box flexDirection="column" width={cols}>
          <Text wrap="truncate-end">
            <C bold>loki dashboard</C>
            {'  '}
            {TABS.map((t, i) => (ui.screen === t || (t === 'sessions' && ui.screen === 'session') || (t === 'sandboxes' && ui.screen === 'logs') ? `[${i + 1} ${t}] ` : ` ${i + 1} ${t}  `)).join('')}
            {'  ? help  q quit'}
          </Text>
          {screen}
          {ui.filterEditing || filter ? <Text wrap="truncate-end">{`/${escapeForDisplay(filter)}${ui.filterEditing ? '_  (enter keep · esc clear)' : ''}`}</Text> : null}
          <StatusBar />
        </Box>
      </ActionsContext.Provider>
    </StateContext.Provider>
  );
}
