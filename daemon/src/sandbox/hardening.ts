// Resolves the hardening controls for one sandbox. Every control is on unless
// the daemon's config allows relaxing it AND the request asks (two keys). If a
// control cannot be applied (seccomp profile missing or invalid, engine without
// seccomp), the sandbox is refused — never started with less.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { LokiError } from '../../../common/src/index.js';
import type { SandboxConfig } from '../config.js';
import type { ResolvedHardening, SandboxLimits, SandboxRelaxations } from './types.js';

/** Syscalls the shipped profile must refuse; a profile that allows any of them is rejected. */
export const REQUIRED_DENIED_SYSCALLS = [
  'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'ptrace', 'mount', 'umount2',
  'unshare', 'setns', 'keyctl', 'add_key', 'request_key', 'bpf', 'kexec_load', 'init_module',
] as const;

interface SeccompRule {
  names?: string[];
  action?: string;
}

interface SeccompProfile {
  defaultAction?: string;
  syscalls?: SeccompRule[];
}

/** Parses and checks a seccomp profile; returns its compact JSON. */
export async function loadSeccompProfile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new LokiError(
      'hardening_unavailable',
      `cannot read the seccomp profile ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); refusing to start a sandbox without it`,
    );
  }
  let profile: SeccompProfile;
  try {
    profile = JSON.parse(text) as SeccompProfile;
  } catch {
    throw new LokiError('hardening_unavailable', `the seccomp profile ${path} is not valid JSON; refusing to start a sandbox`);
  }
  if (profile.defaultAction !== 'SCMP_ACT_ERRNO' || !Array.isArray(profile.syscalls)) {
    throw new LokiError('hardening_unavailable', `the seccomp profile ${path} must deny by default (defaultAction SCMP_ACT_ERRNO)`);
  }
  const allowed = new Set(
    profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW').flatMap((r) => r.names ?? []),
  );
  const leaks = REQUIRED_DENIED_SYSCALLS.filter((s) => allowed.has(s));
  if (leaks.length) {
    throw new LokiError('hardening_unavailable', `the seccomp profile ${path} allows ${leaks.join(', ')}; refusing to start a sandbox`);
  }
  return JSON.stringify(profile);
}

export interface HardeningRequest {
  relax: SandboxRelaxations;
  limits: Partial<SandboxLimits>;
}

export interface HardeningInputs {
  config: SandboxConfig;
  seccompPath: string;
  /** uid:gid resolved from config (`auto` → the daemon's uid, or 64000:64000 when root). */
  defaultUser: string;
  engineSupportsSeccomp: boolean;
  /** Runtimes the engine has registered → their runtimeArgs; the configured one must be among them. */
  engineRuntimes: Readonly<Record<string, readonly string[]>>;
}

/** Two keys: a relaxation the request asks for must be allowed by the daemon's config (`relaxation_not_allowed` otherwise). */
export function checkRelaxations(config: SandboxConfig, relax: HardeningRequest['relax']): void {
  const refused: string[] = [];
  if (relax.network && !config.allow.network) refused.push('network');
  if (relax.writableRootfs && !config.allow.writable_rootfs) refused.push('writable_rootfs');
  if (relax.rootUser && !config.allow.root_user) refused.push('root_user');
  if (refused.length) {
    throw new LokiError(
      'relaxation_not_allowed',
      `the daemon config does not allow relaxing ${refused.join(', ')} (set sandbox.allow.${refused[0]}: true in the daemon config to permit it)`,
    );
  }
  // gVisor is registered with --network=none (checkRuntime insists): a "bridge" sandbox under runsc would
  // silently have no network. Say so instead of starting a sandbox that is not what was asked for.
  if (relax.network && config.runtime === 'runsc') {
    throw new LokiError(
      'relaxation_not_allowed',
      'a sandbox network is not available under gVisor: sandbox.runtime is runsc, which Loki requires registered with --network=none; run sandboxes that need a network with sandbox.runtime: runc',
    );
  }
}

export async function resolveHardening(inputs: HardeningInputs, req: HardeningRequest): Promise<ResolvedHardening> {
  const { config } = inputs;
  checkRelaxations(config, req.relax);
  if (!inputs.engineSupportsSeccomp) {
    throw new LokiError('hardening_unavailable', 'the Docker engine reports no seccomp support; refusing to start a sandbox');
  }
  checkRuntime(config.runtime, inputs.engineRuntimes);
  const profileJson = await loadSeccompProfile(inputs.seccompPath);
  const seccompJson = config.runtime === 'runsc' ? adaptProfileForGvisor(profileJson) : profileJson;
  const limits: SandboxLimits = {
    memoryBytes: clampLimit('memory', req.limits.memoryBytes, config.memory),
    cpus: clampLimit('cpus', req.limits.cpus, config.cpus),
    pids: clampLimit('pids', req.limits.pids, config.pids),
  };
  const user = req.relax.rootUser ? '0:0' : inputs.defaultUser;
  return {
    seccompJson,
    tmpfsSize: config.tmpfs_size,
    user,
    runtime: config.runtime,
    summary: {
      user,
      readOnlyRootfs: !req.relax.writableRootfs,
      capDrop: ['ALL'],
      noNewPrivileges: true,
      seccompProfile: basename(inputs.seccompPath),
      networkMode: req.relax.network ? 'bridge' : 'none',
      memoryBytes: limits.memoryBytes,
      cpus: limits.cpus,
      pids: limits.pids,
      privileged: false,
    },
  };
}

/**
 * The profile answers clone3 with ENOSYS (errnoRet 38) so that glibc falls back to
 * clone(), whose flags the profile can filter. Debian's runsc (2022-12) ignores
 * errnoRet and answers EPERM, so glibc never falls back and no thread can start
 * (node aborts). Under gVisor clone3 is served by gVisor's own kernel, and a
 * namespace made with it is a gVisor namespace, not a host one; so runsc gets the
 * profile with clone3 allowed and every other rule unchanged.
 */
export function adaptProfileForGvisor(profileJson: string): string {
  const p = JSON.parse(profileJson) as SeccompProfile & { syscalls: Array<SeccompRule & { errnoRet?: number }> };
  p.syscalls = p.syscalls.map((r) => (r.names?.length === 1 && r.names[0] === 'clone3' && r.action === 'SCMP_ACT_ERRNO' ? { names: ['clone3'], action: 'SCMP_ACT_ALLOW' } : r));
  return JSON.stringify(p);
}

/** runsc flags without which a hardening control would silently not apply. */
// --host-uds=open: the sandbox connects to the model proxy's socket that lokid bind-mounts in.
const RUNSC_REQUIRED_ARGS = ['--network=none', '--oci-seccomp', '--host-uds=open'];

function checkRuntime(runtime: string, engine: Readonly<Record<string, readonly string[]>>): void {
  const args = engine[runtime];
  // Never fall back to runc: the operator asked for the stronger boundary.
  if (!args) {
    throw new LokiError(
      'hardening_unavailable',
      `sandbox.runtime is ${runtime} but the Docker engine has no such runtime (it has: ${Object.keys(engine).join(', ') || 'none'}); register it with scripts/register-runsc.sh or LOKI_SETUP_GVISOR=1 scripts/setup.sh`,
    );
  }
  if (runtime !== 'runsc') return;
  // Without --oci-seccomp gVisor ignores the container's seccomp profile.
  const missing = RUNSC_REQUIRED_ARGS.filter((a) => !args.includes(a));
  if (missing.length) {
    throw new LokiError(
      'hardening_unavailable',
      `the Docker engine registers runsc without ${missing.join(' ')} (its runtimeArgs are ${JSON.stringify(args)}); re-register it with scripts/register-runsc.sh`,
    );
  }
}

/** A request may lower a limit but never raise it above the configured ceiling. */
function clampLimit(name: string, requested: number | undefined, ceiling: number): number {
  if (requested === undefined || requested === 0) return ceiling;
  if (!(requested > 0)) throw new LokiError('invalid_argument', `limits.${name} must be positive`);
  if (requested > ceiling) {
    throw new LokiError('invalid_argument', `limits.${name} ${requested} exceeds the daemon's ceiling of ${ceiling}`);
  }
  return requested;
}
