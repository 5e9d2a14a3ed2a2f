import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A PostgreSQL server of the test's own (initdb in a temporary folder, its own port), which the
 * test may stop, kill and restart without touching the machine's shared server. Built from
 * Debian's PostgreSQL binaries, run as the `postgres` user (initdb refuses root).
 */
export interface PostgresInstance {
  /** postgres://postgres@host:port/postgres (trust authentication). */
  url: string;
  host: string;
  port: number;
  dataDir: string;
  /** Stops the server: `fast` ends sessions cleanly, `immediate` is a crash (recovery on start). */
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  start(): Promise<void>;
  /** stop(mode) then start(); resolves once the server accepts connections again. */
  restart(mode?: 'fast' | 'immediate'): Promise<void>;
  /** The server's log so far. */
  log(): Promise<string>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

export interface PostgresInstanceOptions {
  /** Listen address; default 127.0.0.1. */
  host?: string;
  /** Default: a free port on 127.0.0.1. */
  port?: number;
  /** Run the server inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string | number>;
}

/** The folder holding initdb and pg_ctl, or null when this machine has none (tests skip). */
export function postgresBinaries(): string | null {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
}

/** Why a private PostgreSQL cannot run here, or null when it can. */
export function postgresInstanceUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (to run PostgreSQL as the postgres user)';
  if (!postgresBinaries()) return "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are not installed";
  return null;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgresInstance(options: PostgresInstanceOptions = {}): Promise<PostgresInstance> {
  const bin = postgresBinaries();
  if (!bin) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? (await freePort());
  const dataDir = await mkdtemp(join(tmpdir(), 'mh-pg-'));
  const { uid, gid } = await postgresUser();
  await chown(dataDir, uid, gid);
  const asPostgres = (cmd: string, args: string[]) => {
    const argv = ['-u', 'postgres', '--', join(bin, cmd), ...args];
    return options.netns ? run('ip', ['netns', 'exec', options.netns, 'runuser', ...argv]) : run('runuser', argv);
  };
  await asPostgres('initdb', ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const settings: Record<string, string | number> = {
    listen_addresses: host,
    port,
    unix_socket_directories: dataDir,
    max_connections: 200,
    fsync: 'off',
    ...options.settings,
  };
  const serverOptions = Object.entries(settings)
    .map(([k, v]) => `-c ${k}=${v}`)
    .join(' ');
  const logFile = join(dataDir, 'server.log');
  const start = async () => {
    await asPostgres('pg_ctl', ['-D', dataDir, '-l', logFile, '-o', serverOptions, '-w', '-t', '60', 'start']);
  };
  const stop = async (mode: 'fast' | 'immediate' = 'fast') => {
    await asPostgres('pg_ctl', ['-D', dataDir, '-m', mode, '-w', '-t', '60', 'stop']).catch((err: unknown) => {
      // Already stopped is fine.
      if (!/not running|No such file|PID file/i.test(String((err as { stderr?: string }).stderr ?? err))) throw err;
    });
  };
  await start();
  return {
    url: `postgres://postgres@${host.includes(':') ? `[${host}]` : host}:${port}/postgres`,
    host,
    port,
    dataDir,
    stop,
    start,
    restart: async (mode = 'fast') => {
      await stop(mode);
      await start();
    },
    log: () => readFile(logFile, 'utf8').catch(() => ''),
    destroy: async () => {
      await stop('immediate').catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const passwd = await readFile('/etc/passwd', 'utf8');
  const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('no postgres user on this machine');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}
