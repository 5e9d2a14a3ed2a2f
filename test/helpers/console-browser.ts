/**
 * What a console page test needs: the console built, an app of its own listening on a random port
 * over the worker's database, a tenant with an admin operator, Debian's Chromium, and pages opened
 * already signed in (the session cookie set in the browser context, as the sign-in page would).
 *
 * The console's browser tests run on the embedded database only: the pages call the same HTTP API
 * whose every route the module tests run on both databases, and a second browser pass per page
 * would add minutes to CI for no new path.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { describe, expect } from 'vitest';
import { ensureAdminBuilt } from '../../src/modules/admin-console/index.js';
import { MASTER } from '../../src/platform/actor.js';
import { systemClock } from '../../src/platform/clock.js';
import { hasBrowser, launchChromium, requireBrowser } from './chromium.js';
import { cookieOf, randomIp, signInRaw } from './console-session.js';
import { type TenantFixture, type TestApp, testApp } from './test-app.js';

export const CONSOLE_PASSWORD = 'correct-horse-battery-staple';
const onEmbedded = process.env.MH_TEST_DB !== 'postgres';

/** `describe` for a console browser test file: skipped without Chromium (CI fails instead) and on PostgreSQL. */
export function describeConsole(name: string, fn: () => void): void {
  requireBrowser(`the console browser tests (${name}) are`);
  describe.skipIf(!hasBrowser || !onEmbedded)(name, fn);
}

export type Role = 'admin' | 'operator' | 'viewer';

export interface OpenOptions {
  /** Who signs in: an operator of the harness's tenant with this role (default admin), or `platform`. */
  as?: Role | 'platform';
  locale?: 'en-US' | 'zh-CN';
  viewport?: { width: number; height: number };
}

export interface ConsolePage {
  page: Page;
  context: BrowserContext;
  /** Page errors and console errors seen so far (a 401 answer logs one; filter those out). */
  failures: string[];
  close(): Promise<void>;
}

export interface ConsoleHarness {
  a: TestApp;
  t: TenantFixture;
  base: string;
  browser: Browser;
  /** An operator of the tenant (made once per role) or a platform operator: email and password. */
  operator(as?: Role | 'platform'): Promise<{ email: string; operator_id: string }>;
  /** A page signed in as `as`, at `path` under /admin (e.g. '/grants'), waiting for the URL. */
  open(path: string, options?: OpenOptions): Promise<ConsolePage>;
  /** A full-page screenshot kept under test/artifacts/admin/<area>/<name>.png. */
  shot(page: Page, name: string): Promise<void>;
  /** Picks an option of a Naive UI select found by its data-test attribute. */
  choose(page: Page, select: string, option: string | RegExp): Promise<void>;
  close(): Promise<void>;
}

/** Starts the harness for one area's test file; call in beforeAll (allow 300 s) and close in afterAll. */
export async function startConsole(area: string): Promise<ConsoleHarness> {
  expect(await ensureAdminBuilt()).not.toBe('no_vite');
  const a = await testApp({ clock: systemClock });
  await a.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}`;
  const t = await a.newTenant();
  const browser = await launchChromium();
  const artifacts = join(import.meta.dirname, '..', 'artifacts', 'admin', area);
  await mkdir(artifacts, { recursive: true });
  const operators = new Map<string, Promise<{ email: string; operator_id: string }>>();

  function operator(as: Role | 'platform' = 'admin') {
    let made = operators.get(as);
    if (!made) {
      const email = `${as}-${randomBytes(4).toString('hex')}@example.com`;
      made = a.app.services.operators
        .createOperator(MASTER, { email, password: CONSOLE_PASSWORD, role: as === 'platform' ? 'admin' : as, tenant_id: as === 'platform' ? null : t.tenantId, name: `${as} operator` })
        .then((op: { operator_id: string }) => ({ email, operator_id: op.operator_id }));
      operators.set(as, made);
    }
    return made;
  }

  async function open(path: string, options: OpenOptions = {}): Promise<ConsolePage> {
    const as = options.as ?? 'admin';
    const { email } = await operator(as);
    const answer = await signInRaw(a.app, { email, password: CONSOLE_PASSWORD, ...(as === 'platform' ? {} : { tenant_id: t.tenantId }) }, { ip: randomIp() });
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, locale: options.locale ?? 'en-US' });
    await context.addCookies([{ name: 'mh_session', value: cookieOf(answer), url: base, httpOnly: true, sameSite: 'Lax' }]);
    const page = await context.newPage();
    const failures: string[] = [];
    page.on('pageerror', (err) => failures.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') failures.push(`console: ${msg.text()}`);
    });
    await page.goto(`${base}/admin${path}`);
    // The header's operator name is hidden on narrow screens: attached is enough.
    await page.locator('[data-test=operator]').waitFor({ state: 'attached' });
    return { page, context, failures, close: () => context.close() };
  }

  return {
    a,
    t,
    base,
    browser,
    operator,
    open,
    shot: async (page, name) => {
      // The console scrolls inside its layout, not the page: the window grows to the tallest
      // scrolled part for the picture (at most 6000 px), then shrinks back.
      const viewport = page.viewportSize();
      const tallest = await page.evaluate<number>(
        "Math.max(document.documentElement.scrollHeight, ...[...document.querySelectorAll('.n-layout-scroll-container, .n-layout')].map((e) => e.scrollHeight + e.getBoundingClientRect().top))",
      );
      const grow = viewport && tallest > viewport.height;
      if (grow) await page.setViewportSize({ width: viewport.width, height: Math.min(Math.ceil(tallest), 6000) });
      await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
      if (grow) await page.setViewportSize(viewport);
    },
    choose: async (page, select, option) => {
      await page.locator(`[data-test="${select}"]`).click();
      await page.locator('.n-base-select-option', { hasText: option }).first().click();
    },
    close: async () => {
      await browser.close();
      await a.app.close();
    },
  };
}
