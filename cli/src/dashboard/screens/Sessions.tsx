import { Box, Text } from 'ink';
import { useDashboardState } from '../context.js';
import { SESSION_HEADER, clock, sessionLine } from '../model.js';
import { RowList, Title } from '../ui.js';
import { visibleSessions, staleLabel } from '../select.js';

export function SessionsScreen({ height }: { height: number }) {
  const s = useDashboardState();
  const items = visibleSessions(s);
  return (
    <Box flexDirection="column">
      <Title stale={staleLabel(s.sessions.link.state, s.sessions.syncedAt)}>{`Sessions (${items.length})`}</Title>
      <Text wrap="truncate-end">{`  ${SESSION_HEADER}`}</Text>
      <RowList
        items={items}
        selected={s.ui.selected.sessions}
        height={height - 2}
        render={sessionLine}
        keyOf={(x) => x.id}
        empty={s.sessions.syncedAt ? `no sessions${s.ui.filters.sessions ? ' match the filter' : ''} — start one with \`loki start\`` : `loading… (since ${clock(Date.now())})`}
      />
    </Box>
  );
}
