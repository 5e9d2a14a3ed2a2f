import ipaddr from 'ipaddr.js';
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

/**
 * An address in the strict textual forms (dotted-quad IPv4 without leading zeros, or IPv6), with
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`, also in hex) unwrapped to the IPv4 address; null for
 * anything else. ipaddr.js alone would also read `127.1` or `0x7f.0.0.1` as IPv4; those forms are
 * refused, as Node's `isIP` refuses them. ipaddr.js reads the deprecated IPv4-compatible form
 * `::1.2.3.4` as mapped too, which is the safer reading for the network guard.
 */
export function parseIp(text: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (!ipaddr.IPv6.isValid(text)) return null;
  const v6 = ipaddr.IPv6.parse(text);
  return v6.isIPv4MappedAddress() ? v6.toIPv4Address() : v6;
}

/** Validates and normalises an address: IPv4-mapped IPv6 becomes IPv4, IPv6 its RFC 5952 form. */
export function normalizeIp(raw: string): string | null {
  return parseIp(raw.trim())?.toString() ?? null;
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
  const parsed = parseIp(ip.trim());
  if (!parsed) return ip;
  if (!(parsed instanceof ipaddr.IPv6)) return parsed.toString();
  return `${parsed.parts
    .slice(0, 4)
    .map((group) => group.toString(16))
    .join(':')}::/64`;
}
