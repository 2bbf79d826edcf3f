// Shapes every part of Loki's domain types uses (client/src/types.ts re-exports them).
/** ISO 8601 UTC, e.g. `2026-12-04T05:00:00.000Z`. */
export type Timestamp = string;
export type { TaskStatus } from '../../../common/src/vocab.js';
