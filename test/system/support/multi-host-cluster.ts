import { execFile, execFileSync } from 'node:child_process';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { type PostgresInstance, postgresBinaries, startPostgresInstance } from './postgres-instance.js';
import { type HostProcess, startHostProcess, startMarketingHub } from './host-process.js';
import { addNetemDelay, createNetwork, type Network, removeLeftovers, removeQdisc } from './netns.js';

/**
 * The multi-host layout: a database host, two API hosts and a worker host, each a network
 * namespace on one bridge, and the test process on the bridge from the root namespace.
 */
export const SUBNET = '10.231.7';
export const ADDRESSES = { test: `${SUBNET}.1`, db: `${SUBNET}.10`, api1: `${SUBNET}.21`, api2: `${SUBNET}.22`, worker: `${SUBNET}.23` } as const;
export const API_PORT = 8105;
export const POSTGRES_PORT = 5432;
/** Where the delay proxy listens on the database host, when latency is added by it. */
export const PROXY_PORT = 5433;

export type LatencyMethod = 'netem' | 'proxy';

export interface Cluster {
  network: Network;
  namespaces: { db: string; api1: string; api2: string; worker: string };
  database: PostgresInstance;
  /** The database URL the hosts use (through the delay proxy when there is no netem). */
  hostDatabaseUrl: string;
  apis: HostProcess[];
  apiUrls: string[];
  worker: HostProcess;
  latencyMethod: LatencyMethod;
  /** Adds `ms` of delay each way between the database host and everything else (0 removes it). */
  setLatency(ms: number): Promise<void>;
}

/**
 * Whether this kernel has tc netem, tried on the loopback of a throw-away namespace (so nothing
 * of the machine's own network is touched). Synchronous, for test titles.
 */
export function netemAvailable(): boolean {
  const probe = `mhost-netem-${process.pid}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'exec', probe, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    } catch {
      // not made
    }
  }
}

/** Everything a cluster made, undone in reverse order by `teardown` even after a partial start. */
export interface Teardown {
  steps: (() => Promise<unknown>)[];
}

export async function teardown(t: Teardown): Promise<void> {
  for (const step of t.steps.splice(0).reverse()) await step().catch(() => {});
}

/**
 * initdb's trust rules cover loopback only; the hosts (and the delay proxy, which connects from the
 * database host's own address) come from the bridge's subnet.
 */
async function allowSubnet(database: PostgresInstance): Promise<void> {
  await appendFile(join(database.dataDir, 'pg_hba.conf'), `host all all ${SUBNET}.0/24 trust\n`);
  await promisify(execFile)('runuser', ['-u', 'postgres', '--', join(postgresBinaries()!, 'pg_ctl'), '-D', database.dataDir, 'reload']);
  // A reload is signalled, not waited for: connect until the new rule lets the bridge in.
  const until = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client({ connectionString: database.url });
    try {
      await client.connect();
      await client.end();
      return;
    } catch (err) {
      if (Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function waitForLine(host: HostProcess, pattern: RegExp, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!pattern.test(host.output())) {
    if (Date.now() > until) throw new Error(`${host.name}: no ${pattern} in ${timeoutMs} ms:\n${host.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startCluster(options: { masterKey: string; latencyMethod: LatencyMethod; env?: Record<string, string> }, t: Teardown): Promise<Cluster> {
  await removeLeftovers();
  const network = await createNetwork(ADDRESSES.test);
  t.steps.push(() => network.destroy());
  const namespaces = {
    db: await network.addHost('db', ADDRESSES.db),
    api1: await network.addHost('api1', ADDRESSES.api1),
    api2: await network.addHost('api2', ADDRESSES.api2),
    worker: await network.addHost('wk', ADDRESSES.worker),
  };

  const database = await startPostgresInstance({ host: ADDRESSES.db, port: POSTGRES_PORT, netns: namespaces.db, settings: { max_connections: 200 } });
  t.steps.push(() => database.destroy());
  await allowSubnet(database);

  let proxy: HostProcess | undefined;
  let hostDatabaseUrl = database.url;
  if (options.latencyMethod === 'proxy') {
    proxy = await startHostProcess({
      name: 'delay proxy',
      ns: namespaces.db,
      args: ['--import', 'tsx', 'test/system/support/delay-proxy.ts', '--listen', `${ADDRESSES.db}:${PROXY_PORT}`, '--target', `${ADDRESSES.db}:${POSTGRES_PORT}`, '--delay-ms', '0'],
      env: {},
      ready: /delay proxy listening/,
    });
    const started = proxy;
    t.steps.push(() => started.stop('SIGKILL'));
    hostDatabaseUrl = `postgres://postgres@${ADDRESSES.db}:${PROXY_PORT}/postgres`;
  }

  const env = {
    DATABASE_URL: hostDatabaseUrl,
    MARKETING_MASTER_KEY: options.masterKey,
    // API hosts only serve requests; the worker host runs every job.
    MARKETING_JOBS_IN_PROCESS: 'false',
    MARKETING_DB_POOL_SIZE: '20',
    MARKETING_GRPC_PORT: '0',
    MARKETING_WEBHOOKS_ALLOW_PRIVATE: 'true',
    // The races send hundreds of redemptions from one client address.
    MARKETING_REDEEM_PER_IP: '1000000',
    MARKETING_LOCKOUT_FAILURES: '1000000',
    LOG_LEVEL: 'warn',
    ...options.env,
  };
  const track = (host: HostProcess) => {
    t.steps.push(() => host.stop('SIGKILL'));
    return host;
  };
  // The first host migrates the empty database; the others then find it up to date.
  const api1 = track(await startMarketingHub('api1', namespaces.api1, ['serve', '--host', ADDRESSES.api1, '--port', String(API_PORT)], env));
  const [api2, worker] = await Promise.all([
    startMarketingHub('api2', namespaces.api2, ['serve', '--host', ADDRESSES.api2, '--port', String(API_PORT)], env).then(track),
    startMarketingHub('worker', namespaces.worker, ['worker'], env).then(track),
  ]);

  const links = [
    { ns: namespaces.db, dev: 'eth0' },
    { ns: network.switchNs, dev: 'db' },
  ];
  const setLatency = async (ms: number) => {
    if (options.latencyMethod === 'proxy') {
      proxy!.send(`delay ${ms}`);
      await waitForLine(proxy!, new RegExp(`delay set to ${ms} ms\\n$`));
      return;
    }
    // Both directions: packets leaving the database host, and packets the bridge sends to it.
    for (const link of links) {
      if (ms === 0) await removeQdisc(link.ns, link.dev);
      else if (!(await addNetemDelay(link.ns, link.dev, ms))) throw new Error(`tc netem failed on ${link.ns} ${link.dev}`);
    }
  };

  return {
    network,
    namespaces,
    database,
    hostDatabaseUrl,
    apis: [api1, api2],
    apiUrls: [`http://${ADDRESSES.api1}:${API_PORT}`, `http://${ADDRESSES.api2}:${API_PORT}`],
    worker,
    latencyMethod: options.latencyMethod,
    setLatency,
  };
}
