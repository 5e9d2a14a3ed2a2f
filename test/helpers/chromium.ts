/**
 * Debian's Chromium for the browser tests, driven by playwright-core (never a downloaded browser).
 * Without /usr/bin/chromium a browser test file is skipped with a loud warning, and fails instead
 * when MH_REQUIRE_BROWSER=1 (CI sets it).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { expect, it } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
export const hasBrowser = existsSync(CHROMIUM);

/** Call at the top of a browser test file: registers the skip warning, or the failure CI wants. */
export function requireBrowser(what: string): void {
  if (hasBrowser) return;
  console.warn(`\n!!!!!!!!\n!!! ${CHROMIUM} is missing: ${what} SKIPPED (apt-get install chromium; MH_REQUIRE_BROWSER=1 makes this a failure)\n!!!!!!!!\n`);
  it('requires the browser when MH_REQUIRE_BROWSER=1', () => {
    expect(process.env.MH_REQUIRE_BROWSER, `${CHROMIUM} is missing`).not.toBe('1');
  });
}

/** Headless Chromium with nothing running in the background. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}
