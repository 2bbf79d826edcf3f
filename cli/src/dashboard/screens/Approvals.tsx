// Pending approvals, and the confirmation that shows one action whole.
import { Box, Text } from 'ink';
import { escapeForDisplay } from '../../../../common/src/index.js';
import { useDashboardState, type Confirm } from '../context.js';
import { approvalListLine, clock } from '../model.js';
import { staleLabel, visibleApprovals } from '../select.js';
import { C, RowList, Title } from '../ui.js';

export function ApprovalsScreen({ height }: { height: number }) {
  const s = useDashboardState();
  const items = visibleApprovals(s);
  const sel = items[s.ui.selected.approvals];
  return (
    <Box flexDirection="column">
      <Title stale={staleLabel(s.approvals.link.state, s.approvals.lastEventAt)}>{`Pending approvals (${items.length})`}</Title>
      <RowList items={items} selected={s.ui.selected.approvals} height={Math.max(3, Math.min(items.length, Math.floor(height / 3)))} render={(a) => approvalListLine(a, s.cols)} keyOf={(a) => a.id} empty="nothing waiting for approval" />
      {sel ? (
        <Box flexDirection="column" marginTop={1}>
          <C bold>{`Selected: ${sel.id} · session ${sel.session_id} · ${sel.action_kind} · requested ${clock(sel.requested_at)} · expires ${clock(sel.expires_at)}`}</C>
          <Text wrap="wrap">{`asked by ${escapeForDisplay(sel.asked_by)}: ${escapeForDisplay(sel.reason)}`}</Text>
          <C bold>Action (whole, escaped):</C>
          <Text wrap="wrap">{escapeForDisplay(sel.action)}</Text>
          {sel.normalized && sel.normalized !== sel.action ? <Text wrap="wrap" color="gray">{`analysed as: ${escapeForDisplay(sel.normalized)}`}</Text> : null}
          <C color="gray">a approve · r reject</C>
        </Box>
      ) : null}
      {s.approvals.recent.length ? (
        <Box flexDirection="column" marginTop={1}>
          <C bold>Recently decided</C>
          {s.approvals.recent.slice(0, 5).map((a) => (
            <Text key={a.id} wrap="truncate-end">{`  ${clock(a.decided_at)} ${a.status} by ${escapeForDisplay(a.decided_by ?? '-')} ${approvalListLine(a, s.cols - 20)}`}</Text>
          ))}
        </Box>
      ) : null}
    </Box>
  );
}

/** The confirmation: repeats exactly what will run (or stop), whole and escaped, and takes an optional comment. */
export function ConfirmView({ confirm, comment, busy }: { confirm: Confirm; comment: string; busy: boolean }) {
  if (confirm.kind === 'stop') {
    const b = confirm.sandbox;
    return (
      <Box flexDirection="column" borderStyle="round" paddingX={1}>
        <C bold color="red">Stop this sandbox?</C>
        <Text wrap="wrap">{`${b.id} ${escapeForDisplay(b.name)} · ${b.state} · owner ${escapeForDisplay(b.owner)} · session ${b.session || '-'} · image ${escapeForDisplay(b.image)}`}</Text>
        <Text>{busy ? 'stopping…' : 'enter: stop · esc: cancel'}</Text>
      </Box>
    );
  }
  const a = confirm.approval;
  const verb = confirm.kind === 'approve' ? 'Approve' : 'Reject';
  return (
    <Box flexDirection="column" borderStyle="round" paddingX={1}>
      <C bold color={confirm.kind === 'approve' ? 'green' : 'red'}>{`${verb} this ${a.action_kind} action for session ${a.session_id}?`}</C>
      <Text wrap="wrap">{`asked by ${escapeForDisplay(a.asked_by)}: ${escapeForDisplay(a.reason)}`}</Text>
      <C bold>Action (whole, escaped):</C>
      <Text wrap="wrap">{escapeForDisplay(a.action)}</Text>
      <Text wrap="wrap">{`Comment (optional): ${comment}_`}</Text>
      <Text>{busy ? 'sending…' : `enter: ${verb.toLowerCase()} · esc: cancel`}</Text>
    </Box>
  );
}
