import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Hosts for multi-host tests, made of Linux network namespaces on this machine: a switch
 * namespace holding a bridge, and one namespace per host joined to it by a veth pair. Each host
 * has its own loopback and only a route to the test subnet (no default route), so what runs in it
 * reaches the other hosts through the bridge and nothing else. The test process joins the bridge
 * too, through one veth in the root namespace.
 */
export interface Network {
  /** The namespace holding the bridge. */
  switchNs: string;
  /** The test process's address on the bridge (root namespace). */
  testAddress: string;
  /** The root namespace's end of the test's veth. */
  testLink: string;
  /** Adds a host namespace with `eth0` at `address` on the bridge; returns its namespace name. */
  addHost(name: string, address: string): Promise<string>;
  /** Removes every namespace and link made here; safe to call twice and after a partial set-up. */
  destroy(): Promise<void>;
}

const PREFIX_LENGTH = 24;
/** Names of this file's namespaces (`mhost-<host>-<pid>`), told apart from other tests' ones. */
const NAMESPACE_PATTERN = /^mhost-[a-z0-9]+-(\d+)$/;
const ROOT_LINK_PATTERN = /^mhnet(\d+)$/;

/** Why network namespaces cannot be made here, or null when they can (checked by making one). */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, veth and a bridge)';
  const probe = `mhost-probe-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return `ip netns is unavailable: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`;
  }
}

/** `ip netns exec ns <argv>` (or the command itself for the root namespace, ns null). */
export function inNamespace(ns: string | null, argv: string[]): [string, string[]] {
  return ns ? ['ip', ['netns', 'exec', ns, ...argv]] : [argv[0]!, argv.slice(1)];
}

async function ip(...args: string[]): Promise<void> {
  await run('ip', args);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Ends what still runs inside a namespace this test made (a server whose stop failed, or one
 * left by a run that was killed), by the pids `ip netns pids` lists, then deletes the namespace.
 */
async function deleteNamespace(ns: string): Promise<void> {
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  for (const pid of stdout.split('\n').map(Number).filter((n) => n > 0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await ip('netns', 'del', ns).catch(() => {});
}

/**
 * Deletes namespaces and root links left by an earlier run that died before its clean-up (their
 * names carry the pid of the test process that made them, which is gone).
 */
export async function removeLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const { stdout: namespaces } = await run('ip', ['netns', 'list']);
  for (const line of namespaces.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    const match = NAMESPACE_PATTERN.exec(name);
    if (match && !alive(Number(match[1]))) {
      await deleteNamespace(name);
      removed.push(name);
    }
  }
  const { stdout: links } = await run('ip', ['-o', 'link', 'show']);
  for (const line of links.split('\n')) {
    const name = /^\d+:\s+([^:@]+)/.exec(line)?.[1] ?? '';
    const match = ROOT_LINK_PATTERN.exec(name);
    if (match && !alive(Number(match[1]))) {
      await ip('link', 'del', name).catch(() => {});
      removed.push(name);
    }
  }
  return removed;
}

/**
 * Makes the switch namespace and the test's own link to it at `testAddress` (e.g. 10.231.7.1).
 * Names carry this process's pid, so two runs never meet and leftovers can be recognised.
 */
export async function createNetwork(testAddress: string): Promise<Network> {
  const pid = process.pid;
  const switchNs = `mhost-sw-${pid}`;
  const testLink = `mhnet${pid}`;
  const namespaces: string[] = [];
  const subnet = `${testAddress.split('.').slice(0, 3).join('.')}.0/${PREFIX_LENGTH}`;

  const network: Network = {
    switchNs,
    testAddress,
    testLink,
    addHost: async (name, address) => {
      const ns = `mhost-${name}-${pid}`;
      await ip('netns', 'add', ns);
      namespaces.push(ns);
      // Both ends are made directly inside their namespaces: no name is ever taken in the root one.
      await ip('link', 'add', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', name, 'netns', switchNs);
      await ip('-n', switchNs, 'link', 'set', name, 'master', 'br0', 'up');
      await ip('-n', ns, 'addr', 'add', `${address}/${PREFIX_LENGTH}`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      return ns;
    },
    destroy: async () => {
      await ip('link', 'del', testLink).catch(() => {});
      for (const ns of [...namespaces].reverse()) await deleteNamespace(ns);
      namespaces.length = 0;
    },
  };

  try {
    await ip('netns', 'add', switchNs);
    namespaces.push(switchNs);
    await ip('-n', switchNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', switchNs, 'link', 'set', 'br0', 'up');
    await ip('link', 'add', testLink, 'type', 'veth', 'peer', 'name', 'test', 'netns', switchNs);
    await ip('-n', switchNs, 'link', 'set', 'test', 'master', 'br0', 'up');
    await ip('addr', 'add', `${testAddress}/${PREFIX_LENGTH}`, 'dev', testLink);
    await ip('link', 'set', testLink, 'up');
  } catch (err) {
    await network.destroy();
    throw new Error(`could not make the test network on ${subnet} (is that subnet already in use here?): ${String((err as { stderr?: string }).stderr ?? err)}`);
  }
  return network;
}

/** The routes of a namespace, one per line (`ip route`). */
export async function routes(ns: string | null): Promise<string[]> {
  const [cmd, args] = inNamespace(ns, ['ip', 'route', 'show']);
  const { stdout } = await run(cmd, args);
  return stdout.trim().split('\n').filter(Boolean);
}

/** The device the root namespace would send a packet to `address` through. */
export async function routeDevice(address: string): Promise<string> {
  const { stdout } = await run('ip', ['route', 'get', address]);
  return /\bdev\s+(\S+)/.exec(stdout)?.[1] ?? '';
}

/** Whether a TCP connection from namespace `ns` to host:port opens within 10 s (a loaded machine is slow to spawn). */
export async function tcpOpens(ns: string | null, host: string, port: number): Promise<boolean> {
  const [cmd, args] = inNamespace(ns, ['timeout', '10', 'bash', '-c', `exec 3<>/dev/tcp/${host}/${port}`]);
  try {
    await run(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/**
 * Adds `delayMs` to every packet leaving `dev` in `ns` with tc netem; false when the kernel has no
 * netem (then the caller adds the latency another way).
 */
export async function addNetemDelay(ns: string, dev: string, delayMs: number): Promise<boolean> {
  try {
    await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'replace', 'dev', dev, 'root', 'netem', 'delay', `${delayMs}ms`]);
    return true;
  } catch {
    return false;
  }
}

export async function removeQdisc(ns: string, dev: string): Promise<void> {
  await run('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', dev, 'root']).catch(() => {});
}
