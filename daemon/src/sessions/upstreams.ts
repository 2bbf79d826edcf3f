// Model upstreams: the endpoints (and their keys) the admin configured. Keys
// stay here, on the host: the per-session model proxy adds them to requests for
// the one upstream they belong to, so no key is ever in a sandbox, and a caller
// can only make the daemon send a key to a URL the admin named.
import { LokiError } from '../../../common/src/index.js';
import type { ModelProxies } from '../agent/model-proxies.js';
import type { Caller } from '../authz/caller.js';
import type { SessionsConfig } from './config.js';
import type { Provider, Session } from './types.js';

export interface Upstream {
  name: string;
  baseUrl: string;
  /** Secret. */
  key: string;
}

/** The upstream name Claude Code sessions use (sessions.claude). */
export const ANTHROPIC_UPSTREAM = 'anthropic';

/** Comparable form of a base URL: WHATWG-normalized, without trailing slashes. */
export function normalizeBaseUrl(raw: string): string {
  const u = new URL(raw);
  return u.href.replace(/\/+$/, '');
}

// What an HTTP header value may hold (Node's own check). A key read from a file
// often ends in a newline; the proxy could not send it, so it is refused here, at
// startup, instead of failing the first model request. The message never quotes the key.
const HEADER_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;

function checkedKey(where: string, key: string): string {
  if (!HEADER_SAFE.test(key)) throw new LokiError('invalid_config', `${where} holds a character an HTTP header cannot carry (a control character such as a trailing newline?)`);
  return key;
}

function keyOf(where: string, u: { api_key?: string; api_key_env?: string | undefined }, env: NodeJS.ProcessEnv): string {
  if (u.api_key) return checkedKey(`${where}.api_key`, u.api_key);
  if (!u.api_key_env) return '';
  const v = env[u.api_key_env];
  if (!v) throw new LokiError('invalid_config', `${where}.api_key_env names ${u.api_key_env}, which is not set in the daemon's environment`);
  return checkedKey(`${where}.api_key_env (${u.api_key_env})`, v);
}

export class ModelUpstreams {
  private readonly openai = new Map<string, Upstream>();
  private readonly anthropic: Upstream;
  readonly defaultName: string;

  constructor(cfg: SessionsConfig, env: NodeJS.ProcessEnv = process.env) {
    const o = cfg.openai;
    for (const [name, u] of Object.entries(o.upstreams)) {
      this.openai.set(name, { name, baseUrl: normalizeBaseUrl(u.base_url), key: keyOf(`sessions.openai.upstreams.${name}`, u, env) });
    }
    if (o.base_url && !this.openai.has('default')) {
      let baseUrl: string;
      try {
        baseUrl = normalizeBaseUrl(o.base_url);
      } catch {
        throw new LokiError('invalid_config', `sessions.openai.base_url "${o.base_url.slice(0, 64)}" is not a URL`);
      }
      this.openai.set('default', { name: 'default', baseUrl, key: '' });
    }
    if (o.default_upstream && !this.openai.has(o.default_upstream)) {
      throw new LokiError('invalid_config', `sessions.openai.default_upstream "${o.default_upstream}" is not one of sessions.openai.upstreams (${this.names().join(', ') || 'none'})`);
    }
    this.defaultName = o.default_upstream || (this.openai.has('default') ? 'default' : this.openai.size === 1 ? [...this.openai.keys()][0]! : '');
    // LOKI_OPENAI_API_KEY / sessions.openai.api_key: the default upstream's key when it names none itself.
    const legacy = keyOf('sessions.openai', o, env);
    const def = this.openai.get(this.defaultName);
    if (def && !def.key) def.key = legacy;
    this.anthropic = { name: ANTHROPIC_UPSTREAM, baseUrl: normalizeBaseUrl(cfg.claude.base_url), key: keyOf('sessions.claude', cfg.claude, env) };
  }

  names(): string[] {
    return [...this.openai.keys()].sort();
  }

  /**
   * The upstream a start request means: a configured one by name or by its
   * exact URL; or, from the local admin only, any URL, which then gets no key.
   */
  choose(caller: Caller, provider: Provider, req: { upstream: string; baseUrl: string }): { name: string; baseUrl: string } {
    if (provider === 'script') {
      if (req.upstream) throw new LokiError('invalid_argument', 'upstream is only used by the openai and claude providers');
      return { name: '', baseUrl: '' };
    }
    const pool = provider === 'claude' ? new Map([[ANTHROPIC_UPSTREAM, this.anthropic]]) : this.openai;
    const known = [...pool.keys()].sort().join(', ') || 'none configured';
    let wanted: string | undefined;
    if (req.baseUrl) {
      try {
        wanted = normalizeBaseUrl(req.baseUrl);
      } catch {
        throw new LokiError('invalid_argument', `base_url "${req.baseUrl.slice(0, 64)}" is not a URL`);
      }
    }
    if (req.upstream) {
      const u = pool.get(req.upstream);
      if (!u) throw new LokiError('invalid_argument', `unknown model upstream "${req.upstream.slice(0, 64)}" for the ${provider} provider (configured: ${known})`);
      if (wanted && wanted !== u.baseUrl) throw new LokiError('invalid_argument', `base_url does not match upstream "${u.name}"; give one or the other`);
      return { name: u.name, baseUrl: u.baseUrl };
    }
    if (wanted) {
      const match = [...pool.values()].find((u) => u.baseUrl === wanted);
      if (match) return { name: match.name, baseUrl: match.baseUrl };
      // A free-form URL is the local admin's choice, and it never gets a configured key.
      if (caller.role === 'local-admin') return { name: '', baseUrl: wanted };
      throw new LokiError(
        'permission_denied',
        `base_url is accepted only from the local admin socket or when it exactly matches a configured upstream; pick one by name with "upstream" (configured: ${known})`,
      );
    }
    if (provider === 'claude') return { name: ANTHROPIC_UPSTREAM, baseUrl: this.anthropic.baseUrl };
    const def = this.openai.get(this.defaultName);
    if (!def) throw new LokiError('invalid_argument', 'the openai provider needs a model upstream: configure sessions.openai.base_url or sessions.openai.upstreams, or pass a base URL from the local CLI');
    return { name: def.name, baseUrl: def.baseUrl };
  }

  /** Where a session's proxy forwards to, and the key it adds ('' = none). */
  resolve(provider: Provider, name: string, baseUrl: string): Upstream {
    if (!name) return { name: '', baseUrl, key: '' };
    const u = provider === 'claude' ? (name === ANTHROPIC_UPSTREAM ? this.anthropic : undefined) : this.openai.get(name);
    if (!u) throw new LokiError('failed_precondition', `model upstream "${name}" is no longer configured`);
    return u;
  }

  /**
   * openai and claude sessions reach their model through the host-side proxy
   * on `<agent dir>/model.sock` (mounted at /run/loki-agent/model.sock), with or
   * without sandbox network: the proxy adds the upstream's key, so the sandbox
   * never holds one. Opens the session's proxy unless it needs none or has one.
   */
  async openProxy(proxies: ModelProxies, s: Session, agentDir: string): Promise<void> {
    if ((s.provider !== 'openai' && s.provider !== 'claude') || !s.baseUrl || proxies.has(s.id)) return;
    const u = this.resolve(s.provider, s.upstream, s.baseUrl);
    await proxies.open(s.id, agentDir, { upstream: new URL(u.baseUrl), kind: s.provider === 'claude' ? 'anthropic' : 'openai', apiKey: u.key });
  }
}
