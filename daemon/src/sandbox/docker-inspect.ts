// What the Docker engine recorded and sees, read back: the Loki labels (the record
// of which sandboxes exist), the hardening actually applied, and whether the
// engine shares the daemon's mount namespace.
import type { ContainerInspectInfo } from 'dockerode';
import { readFileSync, readlinkSync } from 'node:fs';
import { LokiError } from '../../../common/src/index.js';
import type { HardeningSummary, ResolvedHardening, SandboxInfo, SandboxState } from './types.js';

export const LABEL = {
  sandbox: 'loki.sandbox',
  name: 'loki.name',
  owner: 'loki.owner',
  project: 'loki.project',
  session: 'loki.session',
  instance: 'loki.instance',
  workspace: 'loki.workspace',
  hardening: 'loki.hardening',
} as const;

export function fromLabels(
  labels: Record<string, string> | undefined,
  containerId: string,
  state: SandboxState,
  createdAtMs: number,
  exitCode: number,
  image: string,
): SandboxInfo {
  const l = labels ?? {};
  let hardening: HardeningSummary;
  try {
    hardening = JSON.parse(l[LABEL.hardening] ?? '') as HardeningSummary;
  } catch {
    hardening = { user: '', readOnlyRootfs: false, capDrop: [], noNewPrivileges: false, seccompProfile: '', networkMode: '', memoryBytes: 0, cpus: 0, pids: 0, privileged: false };
  }
  return {
    id: l[LABEL.sandbox] ?? '',
    name: l[LABEL.name] ?? '',
    owner: l[LABEL.owner] ?? '',
    project: l[LABEL.project] ?? '',
    session: l[LABEL.session] ?? '',
    state,
    image,
    containerId,
    createdAtMs,
    workspace: l[LABEL.workspace] ?? '',
    hardening,
    exitCode,
  };
}

/** Compares what the engine recorded with what we asked for; any gap refuses the sandbox. */
export function verifyApplied(ins: ContainerInspectInfo, h: ResolvedHardening): void {
  const hc = ins.HostConfig as ContainerInspectInfo['HostConfig'] & { CapDrop?: string[]; SecurityOpt?: string[]; ReadonlyRootfs?: boolean; Runtime?: string };
  const gaps: string[] = [];
  const s = h.summary;
  if (Boolean(hc.ReadonlyRootfs) !== s.readOnlyRootfs) gaps.push('read-only root filesystem');
  if (!(hc.CapDrop ?? []).includes('ALL')) gaps.push('CapDrop ALL');
  const sec: string[] = hc.SecurityOpt ?? [];
  if (!sec.includes('no-new-privileges:true')) gaps.push('no-new-privileges');
  if (!sec.some((o) => o.startsWith('seccomp=') && o.length > 'seccomp='.length + 10)) gaps.push('seccomp profile');
  if (hc.Privileged) gaps.push('unprivileged');
  if ((hc.Runtime || 'runc') !== h.runtime) gaps.push(`runtime ${h.runtime}`);
  if (hc.NetworkMode !== s.networkMode) gaps.push(`network mode ${s.networkMode}`);
  if (ins.Config.User !== h.user) gaps.push(`user ${h.user}`);
  if ((hc.PidsLimit ?? 0) !== s.pids || (hc.Memory ?? 0) !== s.memoryBytes) gaps.push('resource limits');
  const binds = hc.Binds ?? [];
  if (binds.some((b) => b.split(':')[0]?.includes('docker.sock'))) gaps.push('no Docker socket mount');
  if (gaps.length) {
    throw new LokiError('hardening_unavailable', `the engine did not apply: ${gaps.join(', ')}; the sandbox was not started`);
  }
}

/**
 * A mount made in a private mount namespace (systemd's ProtectSystem=,
 * PrivateTmp=, …) is invisible to dockerd, which would then bind the empty
 * directory underneath into the sandbox: no limit, and a workspace the daemon
 * does not see. Refuse rather than run like that.
 */
export function checkSameMountNamespace(dockerPidFile: string): void {
  let pid: string;
  try {
    pid = readFileSync(dockerPidFile, 'utf8').trim();
  } catch {
    return; // no pid file (remote or rootless engine): nothing to compare with
  }
  let ours: string;
  let docker: string;
  try {
    ours = readlinkSync('/proc/self/ns/mnt');
    docker = readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return;
  }
  if (ours !== docker) {
    throw new LokiError(
      'failed_precondition',
      'lokid runs in a different mount namespace from dockerd (e.g. systemd ProtectSystem=/PrivateTmp=), so the size-limited workspace mount would not reach the sandbox; ' +
        'run lokid in the host mount namespace, or set sessions.workspace.max_size: 0 to run without a limit',
    );
  }
}
