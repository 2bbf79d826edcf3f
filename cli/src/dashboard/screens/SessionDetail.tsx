// One session: header, diff summary, recent trail, its pending approvals (the
// action whole and escaped), then the event stream filling the rest.
import { Box, Text } from 'ink';
import { counted, escapeForDisplay, shortenForDisplay } from '../../../../common/src/index.js';
import { useDashboardState } from '../context.js';
import { clock, eventLine } from '../model.js';
import { sessionApprovals, staleLabel } from '../select.js';
import { C, Title } from '../ui.js';

export function SessionDetailScreen({ height }: { height: number }) {
  const s = useDashboardState();
  const id = s.ui.openSession!;
  const session = s.sessions.sessions.find((x) => x.id === id);
  const d = s.detail;
  const pending = sessionApprovals(s);
  const stale = staleLabel(d.link.state, null);
  let used = 1;
  const header = session
    ? `${session.state}${session.reason ? ` (${escapeForDisplay(session.reason)})` : ''} · ${session.provider} · iter ${session.iteration}/${session.max_iterations} · tasks ${session.tasks.completed} done ${session.tasks.failed} failed ${session.tasks.in_progress} active ${session.tasks.pending} pending · $${session.cost_usd.toFixed(2)} · ${shortenForDisplay(session.branch, 50)}`
    : 'not in the current list';
  used += 1;
  const diff = d.diff
    ? `diff ${counted(d.diff.files_changed, 'file')} +${d.diff.insertions} -${d.diff.deletions} · ${counted(d.diff.commits.length, 'commit')}${d.diff.files.length ? ' · ' + d.diff.files.slice(0, 4).map((f) => `${shortenForDisplay(f.path, 30)} +${f.insertions}-${f.deletions}`).join(', ') : ''}`
    : `diff: ${d.diffError ? shortenForDisplay(d.diffError, 80) : '…'}`;
  used += 1;
  const trail = d.trail.slice(-3);
  used += 1 + Math.max(1, trail.length);
  // Pending approvals are never cut; the event list gets what remains.
  const approvalLines = pending.reduce((n, a) => n + 4 + Math.ceil(escapeForDisplay(a.action).length / Math.max(20, s.cols - 4)), 0);
  used += pending.length ? approvalLines + 1 : 0;
  const evHeight = Math.max(3, height - used - 2);
  const end = s.ui.follow ? d.events.length : Math.max(0, d.events.length - s.ui.scroll);
  const shown = d.events.slice(Math.max(0, end - evHeight), end);
  return (
    <Box flexDirection="column">
      <Title stale={stale}>{`Session ${id}${d.link.state === 'ended' ? ' (stream ended)' : ''}`}</Title>
      <Text wrap="truncate-end">{header}</Text>
      <Text wrap="truncate-end">{diff}</Text>
      <C bold>Trail</C>
      {trail.length ? trail.map((t) => <Text key={t.seq} wrap="truncate-end">{`  ${clock(t.timestamp)} ${escapeForDisplay(t.action)} ${shortenForDisplay(JSON.stringify(t.details ?? ''), 80)}`}</Text>) : <C color="gray">  (none)</C>}
      {pending.length ? (
        <Box flexDirection="column">
          <C bold color="yellow">{`Waiting for approval (${pending.length}) — a approve · r reject`}</C>
          {pending.map((a) => (
            <Box key={a.id} flexDirection="column">
              <Text wrap="wrap">{`  ${a.id} ${a.action_kind} asked by ${escapeForDisplay(a.asked_by)}: ${escapeForDisplay(a.reason)}`}</Text>
              <Text wrap="wrap">{`  ${escapeForDisplay(a.action)}`}</Text>
            </Box>
          ))}
        </Box>
      ) : null}
      <C bold>{`Events (${d.events.length})${s.ui.follow ? ' · following' : ` · paused ${s.ui.scroll} up (f: follow)`}`}</C>
      {shown.length ? shown.map((e) => <Text key={e.seq} wrap="truncate-end">{`  ${eventLine(e)}`}</Text>) : <C color="gray">  (no events yet)</C>}
    </Box>
  );
}
