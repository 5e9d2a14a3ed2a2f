import { lookup as lookupCallback, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { lookup } from 'node:dns/promises';
import ipaddr from 'ipaddr.js';
import { Agent } from 'undici';
import { parseIp } from './client-ip.js';

/**
 * Addresses a tenant-configured URL must not reach from inside our network: loopback, private
 * ranges, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT, "this network",
 * multicast and the IPv6 equivalents. Without this check a webhook URL is a way to make the
 * service call its own internals (SSRF).
 */
const blockedV4 = ['0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16', '224.0.0.0/4', '240.0.0.0/4'].map(
  (cidr) => ipaddr.IPv4.parseCIDR(cidr),
);
const blockedV6 = ['::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8'].map((cidr) => ipaddr.IPv6.parseCIDR(cidr));

/** True for a blocked address, and for anything that is not an address (refused rather than guessed). */
export function isPrivateAddress(address: string): boolean {
  // parseIp unwraps IPv4-mapped IPv6 (::ffff:10.0.0.1): the IPv4 address in disguise.
  const ip = parseIp(address);
  if (!ip) return true;
  if (ip instanceof ipaddr.IPv6) return blockedV6.some((range) => ip.match(range));
  return blockedV4.some((range) => ip.match(range));
}

/**
 * Resolves the URL's host and returns the private address it points at, if any: the check before
 * a send, for a clear refusal. The connection itself goes through `publicOnlyAgent`, which checks
 * the addresses it actually connects to, so a host that resolves to a public address here and a
 * private one a moment later (DNS rebinding) is refused too.
 */
export async function privateAddressOf(url: string): Promise<string | null> {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  const addresses = parseIp(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  return addresses.find(isPrivateAddress) ?? null;
}

export class PrivateAddressError extends Error {
  readonly code = 'EPRIVATEADDRESS';
  constructor(readonly address: string) {
    super(`resolves to the private address ${address}`);
    this.name = 'PrivateAddressError';
  }
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * dns.lookup for sockets that must reach public addresses only: every address it hands to the
 * connection is checked, in the form Node asks for (one address, or all of them when it tries
 * several families).
 */
export function publicOnlyLookup(hostname: string, options: LookupOneOptions | LookupAllOptions, callback: LookupCallback): void {
  lookupCallback(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) return callback(new PrivateAddressError(bad.address), []);
    if (options.all) return callback(null, addresses);
    const first = addresses[0];
    if (!first) return callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
    callback(null, first.address, first.family);
  });
}

/** An HTTP agent whose connections reach public addresses only (see publicOnlyLookup). */
export const publicOnlyAgent = new Agent({ connect: { lookup: publicOnlyLookup } });
