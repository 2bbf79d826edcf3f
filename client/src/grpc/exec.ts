// SandboxService/Exec (a bidirectional stream) as an ExecSession: stdin,
// resize and close-stdin go up; stdout, stderr and the exit code come down.
import type { Metadata } from '@grpc/grpc-js';
import type { LokiError } from '../../../common/src/index.js';
import type { ExecRequest, ExecResponse, SandboxServiceClient } from '../../../proto/gen/loki/v1/sandbox.js';
import type { ExecOptions, ExecOutput, ExecSession } from '../types.js';
import { iterateStream } from './stream.js';

export async function startExec(c: SandboxServiceClient, md: Metadata, decode: (err: unknown) => LokiError, id: string, o: ExecOptions): Promise<ExecSession> {
  const stream = c.exec(md);
  const send = (m: ExecRequest) => {
    if (!stream.writableEnded && !stream.destroyed) stream.write(m);
  };
  send({
    msg: { $case: 'start', start: { id, argv: o.argv, tty: o.tty ?? false, cols: o.cols ?? 80, rows: o.rows ?? 24, env: o.env ?? {}, workdir: o.workdir ?? '' } },
  });
  const output = iterateStream<ExecResponse, ExecOutput>(
    () => stream,
    (m) => {
      switch (m.msg?.$case) {
        case 'stdout':
          return { stream: 'stdout', data: m.msg.stdout };
        case 'stderr':
          return { stream: 'stderr', data: m.msg.stderr };
        case 'exitCode':
          return { stream: 'exit', exit_code: m.msg.exitCode };
        default:
          return undefined;
      }
    },
    decode,
  );
  return {
    [Symbol.asyncIterator]: () => output[Symbol.asyncIterator](),
    write(data) {
      send({ msg: { $case: 'stdin', stdin: typeof data === 'string' ? Buffer.from(data) : Buffer.from(data.buffer, data.byteOffset, data.byteLength) } });
    },
    resize(cols, rows) {
      send({ msg: { $case: 'resize', resize: { cols, rows } } });
    },
    closeStdin() {
      send({ msg: { $case: 'closeStdin', closeStdin: true } });
    },
    cancel() {
      stream.cancel();
    },
  };
}
