// A stream started while the channel is not connected waits for the connection, and grpc-js gives
// that wait no bound: a stream has no deadline, and to a lokid that is stopped or whose event loop is
// stuck the socket connects (the kernel's listen backlog) but the HTTP/2 handshake never finishes. A
// `--follow` that reconnected then, or the gateway's next stream, stayed open and silent until lokid
// came back (seen: 150 s, for as long as lokid was stopped). Unary calls are bounded by their deadline;
// this bounds the streams' wait: a stream whose channel is not connected `ms` after it started fails
// with UNAVAILABLE, which the client reads as `daemon_unavailable`. Once connected, the keepalive
// pings (daemon-client-wire.ts) watch the stream. A dead lokid still fails a stream at once, as before.
import { connectivityState, InterceptingCall, status, type ChannelInterface, type Interceptor, type InterceptorProvider, type StatusObject } from '@grpc/grpc-js';

/** For streaming methods only: unary calls carry their own deadline, and their hot path gains no wrapper. */
export function boundStreamConnect(channel: () => ChannelInterface, ms: number): InterceptorProvider {
  const bound = boundConnect(channel, ms);
  // grpc-js leaves out a provider's falsy answer (getInterceptingCall filters them), though its type says otherwise.
  const none = undefined as unknown as Interceptor;
  return (method) => (method.responseStream ? bound : none);
}

function boundConnect(channel: () => ChannelInterface, ms: number): Interceptor {
  return (options, nextCall) => {
    const call: InterceptingCall = new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        let ended = false;
        const ch = channel();
        // The common case, a connected channel, costs one state read. Once the channel is connected the
        // queued stream is on it at once; a stream on a connection never sees its channel unconnected.
        const timer =
          ch.getConnectivityState(false) === connectivityState.READY
            ? undefined
            : setTimeout(() => {
                if (ended || ch.getConnectivityState(false) === connectivityState.READY) return;
                call.cancelWithStatus(status.UNAVAILABLE, `lokid did not complete the connection within ${ms / 1000} s`);
              }, ms);
        timer?.unref();
        // A plain Listener: grpc-js passes metadata and messages on to the caller's listener unchanged.
        next(metadata, {
          onReceiveStatus(s: StatusObject, nextStatus: (s: StatusObject) => void) {
            ended = true;
            clearTimeout(timer);
            nextStatus(s);
          },
        });
      },
    });
    return call;
  };
}

