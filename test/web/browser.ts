// Real headless Chromium for the dashboard tests (playwright-core drives the
// system's /usr/bin/chromium; nothing is downloaded). Every browser gets a fresh
// profile directory, no background networking, and collects CSP violations and
// page errors so a test can assert there were none.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.LOKI_TEST_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS = join(process.cwd(), 'artifacts', 'web');

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** CSP violations, page errors and console errors seen so far. */
  problems: string[];
  close(): Promise<void>;
}

export async function openBrowser(viewport = { width: 1280, height: 800 }): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'loki-web-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    const t = m.text();
    // Expected: a 401 while signed out, 403s the tests provoke, and the stream drop they cause.
    // Failed responses are reported with their URL below; here only script errors.
    if (m.type() === 'error' && !/Failed to load resource|ERR_CONNECTION|ERR_INCOMPLETE_CHUNKED|ERR_EMPTY_RESPONSE/.test(t)) problems.push(`console: ${t}`);
    if (/Content Security Policy/i.test(t)) problems.push(`csp: ${t}`);
  });
  page.on('response', (r) => {
    // 401 while signed out and 403 where a test provokes it are expected; anything else ≥ 400 is a defect.
    if (r.status() >= 400 && r.status() !== 401 && r.status() !== 403) problems.push(`http ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  return {
    context,
    page,
    problems,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core in the page (through the DevTools protocol, which the page's CSP does not govern) and returns serious/critical violations. */
export async function axeSerious(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate('typeof window.axe === "object"'))) await page.evaluate(axeSource);
  const r = (await page.evaluate('window.axe.run(document, { resultTypes: ["violations"] })')) as { violations: AxeViolation[] };
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
