// Paging the sessions list, the same over both transports: the daemon answers
// one keyset page at a time; `pages` follows the tokens, `collect` joins them
// (what `sessions.list` returns, so callers that want everything still get it).
import type { Session } from './types.js';

export interface SessionListOptions {
  /** Include ended sessions. */
  all?: boolean;
  /** Page size, 1..500 (the gateway's default is 100). */
  limit?: number;
  /** `next_page_token` of the previous page; omitted = the first page. */
  page_token?: string;
}

export interface SessionPage {
  sessions: Session[];
  /** Pass back as `page_token` for the next page; null on the last. */
  next_page_token: string | null;
}

/** The largest page the daemon serves: the fewest round trips when everything is wanted. */
export const MAX_SESSION_PAGE = 500;

export async function* sessionPages(listPage: (o: SessionListOptions) => Promise<SessionPage>, opts: Omit<SessionListOptions, 'page_token'> = {}): AsyncGenerator<Session[]> {
  let token: string | null = null;
  do {
    const page: SessionPage = await listPage({ ...opts, ...(token ? { page_token: token } : {}) });
    yield page.sessions;
    token = page.next_page_token;
  } while (token);
}

export async function collectSessions(listPage: (o: SessionListOptions) => Promise<SessionPage>, opts: { all?: boolean } = {}): Promise<Session[]> {
  const out: Session[] = [];
  for await (const page of sessionPages(listPage, { ...opts, limit: MAX_SESSION_PAGE })) out.push(...page);
  return out;
}
