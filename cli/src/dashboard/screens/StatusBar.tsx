// Transport and target, daemon health, pending approvals, last event, and
// whether what is on screen is live.
import { Box, Text } from 'ink';
import { useDashboardState } from '../context.js';
import { clock } from '../model.js';
import { useTick } from '../hooks/useFollow.js';
import type { LinkStatus } from '../stream.js';
import { C } from '../ui.js';

function linkText(l: LinkStatus, now: number): string {
  if (l.state === 'reconnecting') {
    const secs = l.retryAt ? Math.max(0, Math.ceil((l.retryAt - now) / 1000)) : 0;
    return `RECONNECTING (attempt ${l.attempt}, next in ${secs}s: ${l.error ?? 'connection lost'})`;
  }
  if (l.state === 'connecting') return 'CONNECTING';
  return 'LIVE';
}


export function StatusBar() {
  const s = useDashboardState();
  useTick(1000);
  const now = Date.now();
  const t = s.transport;
  const st = s.status;
  // The sandbox backend (driver-neutral status): beside the daemon's health when it is down, else last, where a narrow terminal cuts it first.
  const driver = st.value && !st.stale ? st.value.daemon.sandbox_driver : undefined;
  const driverDown = driver && !driver.reachable ? driver : undefined;
  const health = st.value && !st.stale ? `daemon ok v${st.value.daemon.version}${driverDown ? ` · ${driverDown.name} NOT reachable` : ''}${st.value.gateway ? ` · gateway ${st.value.gateway.ready ? 'ready' : 'not ready'}` : ''}` : st.error ? `daemon unreachable` : 'daemon …';
  const down = st.stale
    ? `RECONNECTING (attempt ${st.failures}, next in ${Math.max(0, Math.ceil(((st.retryAt ?? now) - now) / 1000))}s: ${st.error ?? 'daemon unreachable'})`
    : null;
  const worst = [s.sessions.link, s.approvals.link].find((l) => l.state === 'reconnecting') ?? [s.sessions.link, s.approvals.link].find((l) => l.state === 'connecting') ?? s.sessions.link;
  const last = s.sessions.lastEventTime ?? (s.approvals.lastEventAt ? new Date(s.approvals.lastEventAt).toISOString() : null);
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">
        <C color={s.live ? 'green' : 'yellow'} bold>{down ?? linkText(worst, now)}</C>
        {` · ${t.kind} ${t.target}${t.tls ? ' (tls)' : ''} · `}
        <C color={st.value && !st.stale ? 'green' : 'red'}>{health}</C>
        {` · `}
        <C color={s.approvals.pending.length ? 'yellow' : undefined}>{`${s.approvals.pending.length} pending`}</C>
        {` · last event ${clock(last)}`}
        {s.readonly ? <C color="magenta">{' · READ-ONLY'}</C> : null}
        {driver && !driverDown ? ` · ${driver.name} ${driver.version}` : null}
      </Text>
      {s.ui.message ? <Text wrap="truncate-end">{s.ui.message}</Text> : null}
    </Box>
  );
}
