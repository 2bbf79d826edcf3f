// The Ink terminal console (`loki dashboard`).
export { Dashboard } from './Dashboard.js';
export type { DashboardProps } from './Dashboard.js';
export { runDashboard } from './run.js';
export type { RunOptions } from './run.js';
export { collectSnapshot, snapshotJsonLines, snapshotText } from './snapshot.js';
export type { SnapshotData } from './snapshot.js';
export { themeFromEnv, KEY_TABLE } from './model.js';
export type { Theme } from './model.js';
