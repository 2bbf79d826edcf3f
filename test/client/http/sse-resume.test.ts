// The HTTP transport's event stream against a real HTTP server that drops the
// connection mid-stream: the client reconnects with Last-Event-ID and the
// consumer sees every event exactly once, in order.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpClient } from '../../../client/src/http/index.js';

describe('HTTP transport: SSE resume', () => {
  let server: Server;
  let url: string;
  const lastEventIds: (string | undefined)[] = [];
  const auth: (string | undefined)[] = [];

  before(async () => {
    server = createServer((req, res) => {
      lastEventIds.push(req.headers['last-event-id'] as string | undefined);
      auth.push(req.headers.authorization);
      const after = Number(req.headers['last-event-id'] ?? 0);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('retry: 10\n\n: heartbeat\n\n');
      // Each connection sends up to three events, then the "network" drops it; 7 events in all.
      let seq = after;
      for (let i = 0; i < 3 && seq < 7; i++) {
        seq++;
        // Replays one already-delivered event after a reconnect: must not reach the consumer twice.
        if (i === 0 && after > 0) res.write(`id: ${after}\nevent: message\ndata: ${JSON.stringify({ session_id: 's', seq: after, gid: after, time: '', type: 'message', message: 'dup', data: {} })}\n\n`);
        res.write(`id: ${seq}\nevent: message\ndata: ${JSON.stringify({ session_id: 's', seq, gid: seq, time: '', type: 'message', message: `m${seq}`, data: {} })}\n\n`);
      }
      if (seq >= 7) res.end();
      else setTimeout(() => res.socket?.destroy(), 20);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => server.close());

  it('reconnects with Last-Event-ID after a drop: no gap, no duplicate, token in the header only', async () => {
    const c = createHttpClient({ url, token: 'loki_test' });
    const got: number[] = [];
    for await (const e of c.sessions.events('ses-000000000001', { follow: true })) got.push(e.seq);
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7]);
    assert.deepEqual(lastEventIds, [undefined, '3', '6']);
    assert.ok(auth.every((a) => a === 'Bearer loki_test'));
  });
});
