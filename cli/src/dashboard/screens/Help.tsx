import { Box, Text } from 'ink';
import { useDashboardState } from '../context.js';
import { KEY_TABLE, pad } from '../model.js';
import { C, Title } from '../ui.js';

export function HelpScreen() {
  const s = useDashboardState();
  return (
    <Box flexDirection="column">
      <Title>Keys (esc closes)</Title>
      {KEY_TABLE.map((k) => (
        <Text key={k.keys} wrap="truncate-end">{`  ${pad(k.keys, 12)} ${k.what}${k.mutates && s.readonly ? '  [disabled: read-only]' : ''}`}</Text>
      ))}
      {s.readonly ? <C color="yellow">{`Read-only: ${s.readonlyReason}`}</C> : null}
    </Box>
  );
}
