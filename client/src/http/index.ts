// The HTTP transport: the gateway's API over HTTPS (JSON, SSE, WebSocket).
export { createHttpClient } from './loki-client.js';
export type { HttpClientOptions } from './loki-client.js';
export { frames } from './sse.js';
export type { SseFrame } from '../sse-frames.js';
