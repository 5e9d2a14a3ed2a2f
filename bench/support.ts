import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

/** What every bench script shares: the admin connection and scratch database URLs. */

/** Runs one statement on the admin database (create / drop the scratch database). */
export async function admin(adminUrl: string, statement: string): Promise<void> {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    await c.query(statement);
  } finally {
    await c.end();
  }
}

/** The same server URL, pointing at database `db`. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/**
 * Runs the pgbench script file `script` against `url` and reads its summary: transactions per
 * second, average latency and transactions processed.
 */
export function pgbench(url: string, script: string, options: { clients: number; seconds: number }): { tps: number; latencyMs: number; transactions: number } {
  const u = new URL(url);
  const out = execFileSync(
    'pgbench',
    ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username) || 'postgres', '-n', '-f', script, '-c', String(options.clients), '-j', '2', '-T', String(options.seconds), u.pathname.slice(1)],
    { encoding: 'utf8' },
  );
  return {
    tps: Number(/tps = ([\d.]+)/.exec(out)?.[1] ?? 0),
    latencyMs: Number(/latency average = ([\d.]+) ms/.exec(out)?.[1] ?? 0),
    transactions: Number(/number of transactions actually processed: (\d+)/.exec(out)?.[1] ?? 0),
  };
}

/** A JSON API caller for a bench's setup: throws on any status >= 300. */
export function apiCaller(base: string) {
  return async (method: string, path: string, key: string, body?: unknown): Promise<Record<string, string>> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as Record<string, string>;
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Starts `marketing-hub serve` on a free port with `env` (on top of this process's environment)
 * and resolves with its URL once it listens. BENCH_NODE_ARGS (e.g. "--cpu-prof
 * --cpu-prof-dir=/tmp/prof") go to its node; `args` to serve (e.g. --workers 2).
 */
export function startServer(env: Record<string, string>, args: string[] = []): Promise<Server> {
  const nodeArgs = process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(' ') : [];
  return startProcess([...nodeArgs, 'bin/marketing-hub.js', 'serve', '--port', '0', '--host', '127.0.0.1', ...args], { LOG_LEVEL: 'warn', ...env });
}

export interface Server {
  url: string;
  stop: () => Promise<void>;
  /** CPU time (user + system, ms) the server's processes have used so far: it and its workers. */
  cpuMs: () => number;
}

/** Starts `node ...args` in the project folder; resolves once it prints "listening on <url>". */
export function startProcess(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ url: m[1]!, stop: () => stop(child), cpuMs: () => processTreeCpuMs(child.pid!) });
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}: ${out}`)));
  });
}

/** SIGTERM, and wait (at most 15 s) for the server to exit before its database is dropped. */
function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * PostgreSQL's CPU so far (the postmaster and every backend, autovacuum and checkpointer
 * included, and backends that have exited: pgbench's), in ms; NaN when the server is not on this
 * machine. Shows work a case leaves behind.
 */
let postmaster: number | null | undefined;
export async function postgresCpuMs(adminUrl: string): Promise<number> {
  if (postmaster === undefined) {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    const backend = Number((await c.query('select pg_backend_pid() as pid')).rows[0].pid);
    // Read while the backend lives: its parent is the postmaster.
    const stat = existsSync(`/proc/${backend}/stat`) ? readFileSync(`/proc/${backend}/stat`, 'utf8') : null;
    await c.end();
    postmaster = stat ? Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) : null;
  }
  return postmaster === null ? Number.NaN : processTreeCpuMs(postmaster);
}

/**
 * utime + stime of a process and its direct children (an API process's workers, PostgreSQL's
 * backends), and of children it has already reaped, from /proc, in ms.
 */
export function processTreeCpuMs(pid: number): number {
  const tick = 10; // USER_HZ is 100 on Linux
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // Fields after the command name, which may hold spaces: state ppid ... utime(14) stime(15).
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(entry) === pid) total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) * tick;
    else if (Number(f[1]) === pid) total += (Number(f[11]) + Number(f[12])) * tick;
  }
  return total;
}
