// Small presentational pieces that honour the theme: colour only when allowed
// (NO_COLOR, TERM=dumb), and the selection always marked by a glyph as well,
// so nothing depends on colour alone.
import type { ReactNode } from 'react';
import { Box, Text } from 'ink';
import { useDashboardState } from './context.js';
import { clock, windowAround } from './model.js';

type Color = 'green' | 'red' | 'yellow' | 'cyan' | 'gray' | 'magenta';

export function C({ color, bold, children }: { color?: Color; bold?: boolean; children: ReactNode }) {
  const { theme } = useDashboardState();
  return (
    <Text color={theme.color ? color : undefined} bold={theme.color ? bold : undefined}>
      {children}
    </Text>
  );
}

export function Title({ children, stale }: { children: ReactNode; stale?: string | null }) {
  const s = useDashboardState();
  if (!stale && s.status.stale) stale = `daemon unreachable, data as of ${clock(s.status.at)}`;
  return (
    <Box>
      <C bold color="cyan">
        {children}
      </C>
      {stale ? <C color="yellow">{`  [not live: ${stale}]`}</C> : null}
    </Box>
  );
}

/** A list that shows only the rows that fit, keeping the selection visible. */
export function RowList<T>(props: {
  items: readonly T[];
  selected: number;
  height: number;
  render: (item: T) => string;
  keyOf: (item: T) => string;
  empty: string;
}) {
  const { theme } = useDashboardState();
  if (props.items.length === 0) return <C color="gray">{props.empty}</C>;
  const { start, end } = windowAround(props.items.length, props.selected, props.height);
  const mark = theme.ascii ? '>' : '›';
  return (
    <Box flexDirection="column">
      {props.items.slice(start, end).map((item, i) => {
        const sel = start + i === props.selected;
        return (
          <Text key={props.keyOf(item)} wrap="truncate-end" inverse={sel && theme.color}>
            {`${sel ? mark : ' '} ${props.render(item)}`}
          </Text>
        );
      })}
      {props.items.length > end - start ? <C color="gray">{`  ${start + 1}-${end} of ${props.items.length}`}</C> : null}
    </Box>
  );
}
