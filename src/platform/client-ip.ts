import { isIP } from 'node:net';
import { Type } from 'typebox';
import { invalidRequest } from './errors.js';

/**
 * The end user's IP address, for per-IP rate limits.
 *
 * Most calls come server to server: a tenant's backend, holding an API key, calls for many end
 * users from a few addresses of its own. Limiting "per IP" on that address would make one busy
 * user, or an attacker behind the backend, exhaust the limit for every user of the tenant. So:
 *
 * 1. `client_ip` in the body, when the calling backend passes its end user's address: used as is
 *    (the caller is authenticated; it may lie, but then it only loosens its own users' limit,
 *    and the per-user and per-product limits still hold). Backends that call for many users must
 *    pass it, or the per-IP rule does not apply to them at all.
 * 2. Else, for a caller that is not a server key (an end-user client: a future publishable /
 *    SDK key or landing page), the address Fastify derives: X-Forwarded-For, but only when the
 *    socket peer is a proxy listed in `server.http.trust_proxy` (Fastify's trustProxy), else the
 *    socket address. A forged X-Forwarded-For from anyone else is ignored.
 * 3. Else (a server key without `client_ip`): no end-user IP, and the per-IP rule is skipped.
 *    The request's own address is the backend's, or its proxy's, never an end user's.
 */
export interface ClientIp {
  ip: string;
  source: 'body' | 'forwarded' | 'socket';
}

/**
 * The body field for routes that rate-limit per end user (`client_ip: Type.Optional(ClientIpField)`).
 * Checked to be an address by resolveClientIp / endUserIp (400 invalid_request naming client_ip).
 */
export const ClientIpField = Type.String({
  minLength: 1,
  maxLength: 64,
  description: "The end user's IP address, when a backend calls for its users (used for per-IP limits)",
});

/** What this needs of a Fastify request (so it can be tested and used without Fastify types). */
export interface RequestAddress {
  /** Fastify's `request.ip`: the forwarded address when the peer is a trusted proxy, else the socket's. */
  ip: string;
  socket: { remoteAddress?: string | undefined };
}

/** Validates and normalises an address: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4. */
export function normalizeIp(raw: string): string | null {
  const value = raw.trim();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(value);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  const kind = isIP(value);
  if (kind === 4) return value;
  if (kind === 6) return value.toLowerCase();
  return null;
}

/**
 * The address of whoever made the request: `client_ip` from the body when given (400
 * invalid_request if it is not an IP address), else Fastify's (trusted-proxy aware) address.
 */
export function resolveClientIp(request: RequestAddress, bodyClientIp?: string | null): ClientIp {
  if (bodyClientIp !== undefined && bodyClientIp !== null) {
    const ip = normalizeIp(bodyClientIp);
    if (!ip) throw invalidRequest('client_ip', 'must be an IPv4 or IPv6 address');
    return { ip, source: 'body' };
  }
  const socket = request.socket.remoteAddress ? normalizeIp(request.socket.remoteAddress) : null;
  const ip = normalizeIp(request.ip) ?? socket ?? request.ip;
  return { ip, source: socket !== null && ip !== socket ? 'forwarded' : 'socket' };
}

/**
 * The end user's IP for per-IP limits, or null when there is none to limit on (a server key that
 * did not pass `client_ip`; see the rules above). `serverCaller`: the request was authenticated
 * with a server-side key (every tenant key and the master key today).
 */
export function endUserIp(request: RequestAddress, bodyClientIp: string | null | undefined, options: { serverCaller: boolean }): string | null {
  const resolved = resolveClientIp(request, bodyClientIp);
  if (resolved.source === 'body' || !options.serverCaller) return resolved.ip;
  return null;
}

/**
 * The part of an address a per-IP limit counts: IPv4 whole, IPv6 by its /64 network, since one
 * subscriber usually holds a whole /64 and could otherwise rotate through 2^64 addresses.
 */
export function ipLimitKey(ip: string): string {
  const normalized = normalizeIp(ip);
  if (!normalized || isIP(normalized) === 4) return normalized ?? ip;
  return `${expandIpv6(normalized).slice(0, 4).join(':')}::/64`;
}

function expandIpv6(ip: string): string[] {
  // An embedded IPv4 tail (::1.2.3.4) is two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  let text = ip;
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = ip.slice(0, -v4[1]!.length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}
