import { pgErrorCode } from './errors.js';

const TRANSIENT = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

/**
 * Runs a transaction again when PostgreSQL aborted it as a deadlock victim or for a serialization
 * failure: nothing of it was committed, so running it again is safe.
 */
export async function retryTransient<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      if (attempt >= ATTEMPTS || !TRANSIENT.has(pgErrorCode(err) ?? '')) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}
