/**
 * HTTP helpers the push adapters share: the dispatcher that keeps tenant-configured URLs out of
 * private networks, the classification of network errors, and Retry-After.
 */
import { isIP } from 'node:net';
import type { Dispatcher } from 'undici';
import { isPrivateAddress, PrivateAddressError, publicOnlyAgent } from '../../../platform/network-guard.js';
import type { ProviderDeps, SendOutcome } from './channel.js';

const SNIPPET_CHARS = 200;

/** `publicOnlyAgent` unless private networks are allowed; then the adapter's own agent. */
export function guardedDispatcher(deps: ProviderDeps, ownAgent: Dispatcher | null): Dispatcher {
  if (deps.allowPrivateNetworks && ownAgent) return ownAgent;
  return publicOnlyAgent;
}

/**
 * An address literal in the URL is connected to without a DNS lookup, so `publicOnlyAgent` never
 * sees it: it is checked here. Host names are checked by the agent at connection time.
 */
export function refusePrivateLiteral(url: string, deps: ProviderDeps): PrivateAddressError | null {
  if (deps.allowPrivateNetworks) return null;
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) return null;
  return isPrivateAddress(host) ? new PrivateAddressError(host) : null;
}

function privateCause(err: unknown): PrivateAddressError | null {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof PrivateAddressError) return e;
    if ((e as { code?: unknown }).code === 'EPRIVATEADDRESS') return new PrivateAddressError(String((e as { address?: unknown }).address ?? ''));
  }
  return null;
}

/**
 * A request that got no answer: a refused private address is `refused` (retrying cannot help),
 * anything else (timeout, connection reset, DNS failure) is `retry`.
 */
export function classifyNetworkError(err: unknown, who: string, refused: 'failed' | 'invalid_address'): SendOutcome {
  const blocked = privateCause(err);
  if (blocked) return { kind: refused, error: `${who} refused: ${blocked.message} (private networks are not allowed)` };
  const name = (err as { name?: unknown })?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'retry', error: `${who} did not answer in time` };
  const code = (err as { code?: unknown })?.code ?? (err as { cause?: { code?: unknown } })?.cause?.code;
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'retry', error: `${who} unreachable: ${typeof code === 'string' ? `${code} ` : ''}${message}` };
}

/** Retry-After as delay-seconds or an HTTP date, in ms from now; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | string[] | undefined, nowMs: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** The start of an answer body, one line, for error messages. */
export function snippet(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, SNIPPET_CHARS);
}
