// A throwaway PKI made with openssl for the mutual-TLS tests: a CA and leaf
// certificates signed by it — the daemon's server certificate (its SAN given),
// the allowed gateway's client certificate and an intruder's.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** Writes ca.*, lokid.*, loki-gateway.* and intruder.* (.crt/.key) into `dir`. */
export function makeMtlsPki(dir: string, lokidSan: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=loki-test-ca'], dir);
  const leaf = (name: string, san: string) => {
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
  };
  leaf('lokid', lokidSan);
  leaf('loki-gateway', 'DNS:loki-gateway');
  leaf('intruder', 'DNS:intruder');
}
