import { Box, Text } from 'ink';
import { useDashboardState } from '../context.js';
import { auditLine } from '../model.js';
import { staleLabel, visibleAudit } from '../select.js';
import { C, Title } from '../ui.js';

export function AuditScreen({ height }: { height: number }) {
  const s = useDashboardState();
  const items = visibleAudit(s);
  const shown = items.slice(-Math.max(3, height - 1));
  const link = s.audit.link;
  return (
    <Box flexDirection="column">
      <Title stale={link.state === 'denied' ? null : staleLabel(link.state, null)}>{`Audit tail (${items.length})`}</Title>
      {link.state === 'denied' ? (
        <C color="yellow">{`The audit log needs the audit scope (auditor or admin): ${link.error}`}</C>
      ) : shown.length ? (
        shown.map((e) => <Text key={e.seq} wrap="truncate-end">{auditLine(e)}</Text>)
      ) : (
        <C color="gray">(no entries yet)</C>
      )}
    </Box>
  );
}
