import { Box, Text } from 'ink';
import { escapeForDisplay } from '../../../../common/src/index.js';
import { useDashboardState } from '../context.js';
import { SANDBOX_HEADER, clock, sandboxLine } from '../model.js';
import { staleLabel, visibleSandboxes } from '../select.js';
import { C, RowList, Title } from '../ui.js';

export function SandboxesScreen({ height }: { height: number }) {
  const s = useDashboardState();
  const items = visibleSandboxes(s);
  const p = s.sandboxes;
  const stale = p.stale ? `last poll failed (${p.error}); data as of ${clock(p.at)}` : null;
  return (
    <Box flexDirection="column">
      <Title stale={stale}>{`Sandboxes (${items.length}) · enter logs · s stop`}</Title>
      <Text wrap="truncate-end">{`  ${SANDBOX_HEADER}`}</Text>
      <RowList items={items} selected={s.ui.selected.sandboxes} height={height - 2} render={sandboxLine} keyOf={(x) => x.id} empty={p.at ? 'no sandboxes' : p.error ? `cannot list sandboxes: ${p.error}` : 'loading…'} />
    </Box>
  );
}

export function LogsScreen({ height }: { height: number }) {
  const s = useDashboardState();
  const lines = s.logs.lines;
  const h = Math.max(3, height - 1);
  const end = s.ui.follow ? lines.length : Math.max(0, lines.length - s.ui.scroll);
  const shown = lines.slice(Math.max(0, end - h), end);
  return (
    <Box flexDirection="column">
      <Title stale={staleLabel(s.logs.link.state, null)}>{`Logs ${s.ui.openSandbox}${s.logs.link.state === 'ended' ? ' (ended)' : ''}${s.ui.follow ? ' · following' : ' · paused (f: follow)'}`}</Title>
      {shown.length ? shown.map((l, i) => <Text key={end - shown.length + i} wrap="truncate-end">{escapeForDisplay(l)}</Text>) : <C color="gray">(no output)</C>}
    </Box>
  );
}
