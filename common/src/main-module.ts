import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * True when the module at `moduleUrl` is the script node was started with.
 * Compares real paths: started through a symlink (npm link, a
 * /usr/local/bin/loki-gateway symlink as a systemd ExecStart), argv[1] is the
 * link while import.meta.url is the target, so a plain comparison says "no"
 * and the binary would silently do nothing.
 */
export function isMainModule(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}
