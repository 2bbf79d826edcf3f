// sd_notify(3) for Type=notify units. Node has no unix datagram sockets, so the
// datagram goes through the small `unix-dgram` native addon (built from source
// by node-gyp at install). Abstract-namespace sockets ("@…") are not supported
// by the addon; there we log once and skip (systemd uses /run/systemd/notify).
import { createRequire } from 'node:module';
import type { Logger } from '../../common/src/index.js';

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error) => void): void;
  close(): void;
  on(event: 'error', f: (err: Error) => void): void;
}

interface UnixDgram {
  createSocket(type: 'unix_dgram'): DgramSocket;
}

export interface Notifier {
  notify(state: string): Promise<void>;
  ready(status?: string): Promise<void>;
  stopping(): Promise<void>;
  reloading(): Promise<void>;
  /** Starts WATCHDOG=1 pings when WATCHDOG_USEC asks for them; returns a stop function. */
  startWatchdog(): () => void;
  readonly enabled: boolean;
}

/** Monotonic time in microseconds, as systemd wants in MONOTONIC_USEC for RELOADING=1. */
function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

export function createNotifier(env: NodeJS.ProcessEnv, log: Logger): Notifier {
  const path = env.NOTIFY_SOCKET;
  let socket: DgramSocket | undefined;
  let enabled = Boolean(path);
  if (path?.startsWith('@')) {
    log.warn({ notify_socket: path }, 'abstract NOTIFY_SOCKET is not supported; systemd notifications disabled');
    enabled = false;
  }
  const send = (state: string): Promise<void> => {
    if (!enabled || !path) return Promise.resolve();
    if (!socket) {
      const req = createRequire(import.meta.url);
      socket = (req('unix-dgram') as UnixDgram).createSocket('unix_dgram');
      socket.on('error', (err) => log.warn({ err }, 'sd_notify socket error'));
    }
    const buf = Buffer.from(state);
    return new Promise((resolve) => {
      socket!.send(buf, 0, buf.length, path, (err) => {
        if (err) log.warn({ err, state }, 'sd_notify failed');
        resolve();
      });
    });
  };
  return {
    enabled,
    notify: send,
    ready: (status) => send(`READY=1\nMAINPID=${process.pid}${status ? `\nSTATUS=${status}` : ''}`),
    stopping: () => send('STOPPING=1'),
    reloading: () => send(`RELOADING=1\nMONOTONIC_USEC=${monotonicUsec()}`),
    startWatchdog: () => {
      const usec = Number(env.WATCHDOG_USEC);
      const pid = env.WATCHDOG_PID ? Number(env.WATCHDOG_PID) : process.pid;
      if (!enabled || !Number.isFinite(usec) || usec <= 0 || pid !== process.pid) return () => undefined;
      const timer = setInterval(() => void send('WATCHDOG=1'), Math.max(100, Math.floor(usec / 2000)));
      timer.unref();
      return () => {
        clearInterval(timer);
        try {
          socket?.close();
        } catch {
          // already closed
        }
        socket = undefined;
      };
    },
  };
}
