import { vi } from 'vitest';
import { ManualClock } from '../../src/platform/clock.js';
import { type TestApp, testApp } from './test-app.js';

/**
 * A new app (its own services) whose sold-out gate never forgets: the gate remembers a sold-out
 * answer for 1 s of `Date.now`, which it captures when the app is built, so building the app
 * under a frozen Date makes a stale sold-out answer show however slow the run is. Close it with
 * `app.app.close()`.
 */
export async function appWithFrozenGate(): Promise<TestApp> {
  const clock = new ManualClock(new Date());
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    return await testApp({ clock });
  } finally {
    vi.useRealTimers();
  }
}

/** The value of one sample of a Prometheus text exposition, 0 when absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    // A sample without labels: `name value`.
    if (Object.keys(labels).length === 0 && line.startsWith(`${name} `)) return Number(line.slice(name.length + 1).trim());
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const found = Object.fromEntries([...line.slice(name.length + 1, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const same = Object.keys(found).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => found[k] === v);
    if (same) return Number(line.slice(close + 1).trim());
  }
  return 0;
}
