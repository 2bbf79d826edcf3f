import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$LOKI_HOME`, default `~/.loki`. */
export function defaultLokiHome(env: NodeJS.ProcessEnv = process.env): string {
  const v = env.LOKI_HOME?.trim();
  return v ? v : join(homedir(), '.loki');
}

export interface RuntimePaths {
  home: string;
  runDir: string;
  adminSocket: string;
  gatewaySocket: string;
  stateDir: string;
  workspacesDir: string;
  auditDir: string;
  cliTokenFile: string;
}

/** Where each process finds the others' files under one LOKI_HOME (see docs/architecture.md). */
export function runtimePaths(home: string, runDir?: string): RuntimePaths {
  const run = runDir ?? join(home, 'run');
  return {
    home,
    runDir: run,
    adminSocket: join(run, 'admin.sock'),
    gatewaySocket: join(run, 'gateway.sock'),
    stateDir: join(home, 'state'),
    workspacesDir: join(home, 'workspaces'),
    auditDir: join(home, 'dashboard', 'audit'),
    cliTokenFile: join(home, 'cli-token'),
  };
}
