import { Agent, fetch } from 'undici';
import { privateAddressOf, publicOnlyAgent } from '../../platform/network-guard.js';

const localAgent = new Agent();
const MAX_REDIRECTS = 3;

export interface ImageLimits {
  maxBytes: number;
  timeoutMs: number;
  /** Only for tests and closed networks: let the URL reach loopback / private addresses. */
  allowPrivateNetworks: boolean;
}

/**
 * The campaign image behind a tenant-given URL, or null when it cannot be had within the limits
 * (unreachable, a private address, not 2xx, larger than maxBytes, slower than timeoutMs, more
 * than 3 redirects): the poster then shows a colour block rather than failing. Each hop is
 * checked with the network guard (privateAddressOf for the URL as given, including IP literals,
 * which never go through a DNS lookup; publicOnlyAgent for the addresses actually connected to),
 * so the URL cannot make the service fetch from its own network.
 */
export async function fetchImage(url: string, limits: ImageLimits): Promise<Buffer | null> {
  const signal = AbortSignal.timeout(limits.timeoutMs);
  try {
    let current = new URL(url);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      if (current.protocol !== 'http:' && current.protocol !== 'https:') return null;
      if (!limits.allowPrivateNetworks && (await privateAddressOf(current.href))) return null;
      const res = await fetch(current, { signal, redirect: 'manual', dispatcher: limits.allowPrivateNetworks ? localAgent : publicOnlyAgent, headers: { accept: 'image/*' } });
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        current = new URL(location, current);
        continue;
      }
      if (!res.ok || !res.body) {
        await res.body?.cancel();
        return null;
      }
      return await readLimited(res.body, Number(res.headers.get('content-length') ?? 0), limits.maxBytes);
    }
    return null;
  } catch {
    return null;
  }
}

async function readLimited(body: ReadableStream<Uint8Array>, declared: number, maxBytes: number): Promise<Buffer | null> {
  if (declared > maxBytes) {
    await body.cancel();
    return null;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    // Counted as it arrives: a missing or false Content-Length does not get past the limit.
    if (size > maxBytes) {
      await body.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
