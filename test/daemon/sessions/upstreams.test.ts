// Which model upstream (and key) a start request gets: configured ones by name
// or exact URL; a free-form URL only from the local admin, and then no key.
import assert from 'node:assert/strict';
import { LokiError } from '../../../common/src/index.js';
import { defaultSessionsConfig } from '../../../daemon/src/sessions/config.js';
import { ModelUpstreams } from '../../../daemon/src/sessions/upstreams.js';
import { ADMIN, gatewayCaller } from './helpers.js';

const OPERATOR = gatewayCaller('token:op', ['read', 'control']);

function refused(kind: string, re: RegExp) {
  return (err: unknown) => err instanceof LokiError && err.kind === kind && re.test(err.message);
}

describe('ModelUpstreams', () => {
  const cfg = defaultSessionsConfig({
    openai: {
      api_key: 'sk-legacy',
      default_upstream: 'ollama',
      upstreams: { ollama: { base_url: 'http://127.0.0.1:11434/v1' }, cloud: { base_url: 'https://api.example.com/v1', api_key_env: 'TEST_CLOUD_KEY' } },
    },
    claude: { api_key: 'sk-ant' },
  });
  const ups = new ModelUpstreams(cfg, { TEST_CLOUD_KEY: 'sk-cloud' });

  it('gives the default upstream when none is named, and the legacy key to it', () => {
    assert.deepEqual(ups.choose(OPERATOR, 'openai', { upstream: '', baseUrl: '' }), { name: 'ollama', baseUrl: 'http://127.0.0.1:11434/v1' });
    assert.equal(ups.resolve('openai', 'ollama', '').key, 'sk-legacy');
    assert.equal(ups.resolve('openai', 'cloud', '').key, 'sk-cloud', 'api_key_env is read from the environment');
  });

  it('matches a base_url to a configured upstream exactly (after URL normalization)', () => {
    assert.deepEqual(ups.choose(OPERATOR, 'openai', { upstream: '', baseUrl: 'https://API.example.com/v1/' }), { name: 'cloud', baseUrl: 'https://api.example.com/v1' });
    assert.throws(() => ups.choose(OPERATOR, 'openai', { upstream: '', baseUrl: 'https://api.example.com/v2' }), refused('permission_denied', /only from the local admin socket.*\(configured: cloud, ollama\)/));
    assert.throws(() => ups.choose(OPERATOR, 'openai', { upstream: '', baseUrl: 'http://169.254.169.254/latest' }), refused('permission_denied', /base_url/));
  });

  it('lets the local admin use any URL, and then sends no key', () => {
    const c = ups.choose(ADMIN, 'openai', { upstream: '', baseUrl: 'http://10.0.0.5:8000/v1' });
    assert.deepEqual(c, { name: '', baseUrl: 'http://10.0.0.5:8000/v1' });
    assert.equal(ups.resolve('openai', c.name, c.baseUrl).key, '');
  });

  it('refuses unknown names, a name and a different URL together, and an upstream for script sessions', () => {
    assert.throws(() => ups.choose(OPERATOR, 'openai', { upstream: 'nope', baseUrl: '' }), refused('invalid_argument', /unknown model upstream "nope" for the openai provider \(configured: cloud, ollama\)/));
    assert.throws(() => ups.choose(ADMIN, 'openai', { upstream: 'ollama', baseUrl: 'http://10.0.0.5/v1' }), refused('invalid_argument', /does not match upstream "ollama"/));
    assert.throws(() => ups.choose(ADMIN, 'script', { upstream: 'ollama', baseUrl: '' }), refused('invalid_argument', /only used by the openai and claude providers/));
  });

  it('sends Claude Code sessions to the configured Anthropic upstream with its key', () => {
    const c = ups.choose(OPERATOR, 'claude', { upstream: '', baseUrl: '' });
    assert.deepEqual(c, { name: 'anthropic', baseUrl: 'https://api.anthropic.com' });
    assert.equal(ups.resolve('claude', c.name, c.baseUrl).key, 'sk-ant');
    assert.throws(() => ups.choose(OPERATOR, 'claude', { upstream: '', baseUrl: 'https://evil.example/' }), refused('permission_denied', /base_url/));
  });

  it('fails at startup when api_key_env names an unset variable or default_upstream is unknown', () => {
    assert.throws(() => new ModelUpstreams(cfg, {}), refused('invalid_argument', /upstreams\.cloud\.api_key_env names TEST_CLOUD_KEY, which is not set/));
    assert.throws(() => new ModelUpstreams(defaultSessionsConfig({ openai: { default_upstream: 'x' } }), {}), refused('invalid_argument', /default_upstream "x" is not one of/));
    assert.throws(() => new ModelUpstreams(cfg, { TEST_CLOUD_KEY: 'sk-cloud\n' }), refused('invalid_argument', /upstreams\.cloud\.api_key_env \(TEST_CLOUD_KEY\) holds a character an HTTP header cannot carry/));
  });

  it('keeps sessions.openai.base_url + api_key (LOKI_OPENAI_*) working as the upstream "default"', () => {
    const legacy = new ModelUpstreams(defaultSessionsConfig({ openai: { base_url: 'http://127.0.0.1:11434/v1', api_key: 'sk-1' } }), {});
    assert.deepEqual(legacy.choose(OPERATOR, 'openai', { upstream: '', baseUrl: '' }), { name: 'default', baseUrl: 'http://127.0.0.1:11434/v1' });
    assert.equal(legacy.resolve('openai', 'default', '').key, 'sk-1');
    assert.throws(() => legacy.resolve('openai', 'gone', ''), refused('failed_precondition', /no longer configured/));
  });
});
