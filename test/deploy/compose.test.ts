// deploy/compose/docker-compose.yml, read: its structure against what the other
// tests prove (the images build-images.sh makes, the nginx files nginx.test.ts
// runs), healthchecks, named volumes bound at the host paths lokid shares with
// the engine. compose-up.test.ts runs it with docker-compose.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEPLOY } from './helpers.js';

const DIR = join(DEPLOY, 'compose');

interface Service {
  image: string;
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  cap_drop?: string[];
  security_opt?: string[];
  environment?: Record<string, string>;
}

describe('deploy/compose/docker-compose.yml', () => {
  const doc = parse(readFileSync(join(DIR, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, { driver_opts: { device: string; o: string } }> };
  const s = doc.services;
  const script = readFileSync(join(DEPLOY, '..', 'scripts', 'build-images.sh'), 'utf8');

  it('runs lokid, the gateway and nginx from the images scripts/build-images.sh builds', () => {
    assert.deepEqual(Object.keys(s).sort(), ['gateway', 'lokid', 'nginx']);
    for (const [svc, name] of [['lokid', 'lokid'], ['gateway', 'loki-gateway'], ['nginx', 'loki-nginx']] as const) {
      assert.match(s[svc]!.image, new RegExp(`^${name}:`));
      assert.match(script, new RegExp(`name=${name};`), `build-images.sh builds ${name}`);
    }
  });

  it('has no top-level name (Debian 12\'s docker-compose 1.29 refuses the file with one)', () => {
    assert.deepEqual(Object.keys(doc).sort(), ['networks', 'services', 'volumes']);
  });

  it('mounts only nginx files that exist and that the nginx test runs', () => {
    for (const v of s.nginx!.volumes!) {
      const src = v.split(':')[0]!;
      if (v.startsWith('${LOKI_TLS_DIR:-./tls}:')) continue; // made by gen-cert.sh
      assert.ok(existsSync(join(DIR, src)), `${src} exists`);
    }
  });

  it('starts in order on health, with every service hardened', () => {
    assert.ok(s.lokid!.healthcheck, 'lokid has a healthcheck');
    assert.equal(s.gateway!.depends_on!.lokid!.condition, 'service_healthy');
    assert.equal(s.nginx!.depends_on!.gateway!.condition, 'service_healthy');
    for (const svc of Object.values(s)) {
      assert.deepEqual(svc.cap_drop, ['ALL']);
      assert.ok(svc.security_opt?.includes('no-new-privileges:true'));
    }
    assert.equal(s.gateway!.environment!.LOKI_BEHIND_TLS_PROXY, 'true');
    // Behind nginx: the client's address from X-Forwarded-For, and OIDC redirects to the URL users reach.
    assert.equal(s.gateway!.environment!.LOKI_TRUSTED_PROXIES, '172.16.0.0/12');
    assert.equal(s.gateway!.environment!.LOKI_PUBLIC_URL, '${LOKI_PUBLIC_URL:-https://localhost}');
  });

  it('keeps lokid state and sockets in named volumes bound at the same host paths', () => {
    const state = '${LOKI_STATE_DIR:-/var/lib/loki}';
    const sockets = '${LOKI_SOCKET_DIR:-/run/loki}';
    assert.deepEqual(doc.volumes['loki-state']!.driver_opts, { type: 'none', o: 'bind', device: state });
    assert.deepEqual(doc.volumes['loki-run']!.driver_opts, { type: 'none', o: 'bind', device: sockets });
    assert.ok(s.lokid!.volumes!.includes(`loki-state:${state}`));
    assert.ok(s.lokid!.volumes!.includes(`loki-run:${sockets}`));
    assert.ok(s.gateway!.volumes!.includes(`loki-run:${sockets}`));
    // lokid is told the same paths it is given.
    assert.equal(s.lokid!.environment!.LOKI_HOME, state);
    assert.equal(s.lokid!.environment!.LOKI_RUN_DIR, sockets);
    assert.equal(s.gateway!.environment!.LOKI_DAEMON_SOCKET, `${sockets}/gateway.sock`);
  });
});
