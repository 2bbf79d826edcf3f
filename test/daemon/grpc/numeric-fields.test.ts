// Client input is never a 500: every numeric field of every request message the
// daemon serves, sent out of range (overflow beyond 2^53 / int32, negative,
// NaN/Infinity for doubles) as raw protobuf bytes to a real lokid, must come back
// INVALID_ARGUMENT with the field named; so must an enum number outside its
// list (daemon/src/grpc/vocab.ts). New fields belong in this table.
import assert from 'node:assert/strict';
import { Client, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { errorCode, startTestDaemon } from '../../helpers/daemon.js';

type TestDaemon = Awaited<ReturnType<typeof startTestDaemon>>;

/** A field value on the wire: varint (int32/int64/uint32, as a decimal string) or double. */
type Value = { varint: string } | { double: number };

interface Case {
  method: string;
  /** Field-number path (`5.1` = field 1 of the message in field 5). */
  field: string;
  /** The name the error must mention. */
  name: RegExp;
  values: Value[];
  /** Other fields that make the request otherwise valid (field number → string, or an encoded sub-message). */
  base?: Record<number, string | Uint8Array>;
  stream?: boolean;
}

const OVER_INT64: Value = { varint: '9223372036854775807' };
const NEG_INT64: Value = { varint: '-9223372036854775807' };
const JUST_OVER_SAFE: Value = { varint: String(2 ** 53) };
const MAX_INT32: Value = { varint: '2147483647' };
const NEG: Value = { varint: '-1' };
const MAX_UINT32: Value = { varint: '4294967295' };
/** Enum numbers no value of the enum has. */
const NOT_IN_ENUM: Value[] = [{ varint: '99' }, NEG, MAX_INT32];

/** PolicyAction{ shell: ShellAction{ command: "ls" } } */
const SHELL_LS = new BinaryWriter().uint32((1 << 3) | 2).bytes(new BinaryWriter().uint32((1 << 3) | 2).string('ls').finish()).finish();

const CASES: Case[] = [
  { method: '/loki.v1.AuditService/Query', field: '1', name: /limit/, values: [NEG, MAX_INT32] },
  { method: '/loki.v1.AuditService/Query', field: '7', name: /cursor/, values: [OVER_INT64, JUST_OVER_SAFE, NEG] },
  { method: '/loki.v1.AuditService/Tail', field: '1', name: /last/, values: [NEG, MAX_INT32], stream: true },
  { method: '/loki.v1.SessionService/Events', field: '2', name: /after_seq/, values: [OVER_INT64, JUST_OVER_SAFE, NEG, NEG_INT64], stream: true },
  { method: '/loki.v1.SessionService/Events', field: '3', name: /after_gid/, values: [OVER_INT64, NEG], stream: true },
  { method: '/loki.v1.SessionService/Start', field: '11', name: /max_iterations/, values: [NEG, MAX_INT32], base: { 2: 'do x', 3: 'script', 4: '[]' } },
  { method: '/loki.v1.SessionService/Start', field: '14', name: /unknown provider -?\d+ \(known: script, openai, claude\)/, values: NOT_IN_ENUM, base: { 2: 'do x', 4: '[]' } },
  { method: '/loki.v1.SessionService/Start', field: '15', name: /unknown autonomy mode -?\d+ \(known: perpetual, checkpoint, supervised\)/, values: NOT_IN_ENUM, base: { 2: 'do x', 4: '[]' } },
  { method: '/loki.v1.PolicyService/ListApprovals', field: '3', name: /unknown status -?\d+/, values: NOT_IN_ENUM },
  { method: '/loki.v1.TokenService/Generate', field: '4', name: /expires_days/, values: [{ varint: '-2' }, MAX_INT32], base: { 1: 'numeric-case' } },
  { method: '/loki.v1.PolicyService/Decide', field: '7', name: /wait_ms/, values: [NEG, MAX_INT32], base: { 1: 'sess-x', 2: SHELL_LS } },
  { method: '/loki.v1.SandboxService/Logs', field: '3', name: /tail/, values: [NEG, MAX_INT32], base: { 1: 'sbx-nope' }, stream: true },
  { method: '/loki.v1.SandboxService/Stop', field: '2', name: /timeout_seconds/, values: [MAX_UINT32], base: { 1: 'sbx-nope' } },
  { method: '/loki.v1.SandboxService/Start', field: '5.1', name: /memory/, values: [OVER_INT64, NEG] },
  { method: '/loki.v1.SandboxService/Start', field: '5.2', name: /cpus/, values: [{ double: Number.NaN }, { double: -1 }, { double: Number.POSITIVE_INFINITY }] },
  { method: '/loki.v1.SandboxService/Start', field: '5.3', name: /pids/, values: [OVER_INT64, NEG] },
  { method: '/loki.v1.WorkspaceService/CreateWorkspace', field: '3', name: /pid/, values: [NEG, MAX_INT32], base: { 1: 'no-such-project', 2: 'sess-x' } },
];

function encode(c: Case, v: Value): Buffer {
  const [outer, inner] = c.field.split('.').map(Number) as [number, number | undefined];
  const put = (w: BinaryWriter, no: number) => {
    if ('varint' in v) w.uint32((no << 3) | 0).int64(v.varint);
    else w.uint32((no << 3) | 1).double(v.double);
  };
  const w = new BinaryWriter();
  for (const [no, v] of Object.entries(c.base ?? {})) {
    if (typeof v === 'string') w.uint32((Number(no) << 3) | 2).string(v);
    else w.uint32((Number(no) << 3) | 2).bytes(v);
  }
  if (inner === undefined) put(w, outer);
  else {
    const sub = new BinaryWriter();
    put(sub, inner);
    w.uint32((outer << 3) | 2).bytes(sub.finish());
  }
  return Buffer.from(w.finish());
}

const raw = (b: Buffer) => b;

function call(client: Client, c: Case, body: Buffer): Promise<ServiceError | 'ok'> {
  return new Promise((resolve) => {
    const deadline = Date.now() + 10_000;
    if (!c.stream) {
      client.makeUnaryRequest(c.method, raw, raw, body, new Metadata(), { deadline }, (err) => resolve(err ?? 'ok'));
      return;
    }
    const s = client.makeServerStreamRequest(c.method, raw, raw, body, new Metadata(), { deadline });
    let done = false;
    const finish = (v: ServiceError | 'ok') => {
      if (done) return;
      done = true;
      s.cancel();
      resolve(v);
    };
    s.on('data', () => finish('ok'));
    s.on('error', (e: ServiceError) => finish(e));
    s.on('end', () => finish('ok'));
  });
}

describe('numeric fields of every daemon request (raw protobuf, real lokid)', function () {
  this.timeout(60_000);
  let d: TestDaemon;
  let client: Client;

  before(async () => {
    d = await startTestDaemon();
    client = new Client(`unix:${d.paths.adminSocket}`, credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await d?.cleanup();
  });

  for (const c of CASES) {
    it(`${c.method} ${c.field}: out-of-range values are INVALID_ARGUMENT naming ${c.name.source}`, async () => {
      for (const v of c.values) {
        const res = await call(client, c, encode(c, v));
        const shown = 'varint' in v ? v.varint : String(v.double);
        assert.notEqual(res, 'ok', `${shown} was accepted`);
        const err = res as ServiceError;
        assert.equal(err.code, status.INVALID_ARGUMENT, `${shown}: ${err.code} ${err.details}`);
        assert.equal(errorCode(err), 'invalid_argument');
        assert.match(err.details, c.name, `${shown}: ${err.details}`);
      }
    });
  }
});
