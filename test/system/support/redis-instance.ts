import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './postgres-instance.js';

/**
 * A redis-server of the test's own (a child process on a free port, nothing saved to disk), which
 * the test may kill, freeze and restart without touching the machine's shared Redis.
 */
export interface RedisInstance {
  /** redis://127.0.0.1:port */
  url: string;
  port: number;
  /** kill -9: connections drop, every key is gone (nothing is saved). */
  kill(): Promise<void>;
  /** SIGSTOP: the port still accepts connections, but no command is answered until resume(). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Starts an empty server on the same port (after kill()). */
  start(): Promise<void>;
  /** kill() then start(): the same port, no keys. */
  restart(): Promise<void>;
  /** Stops the server for good. */
  destroy(): Promise<void>;
}

/** Why a private Redis cannot run here, or null when it can. */
export function redisInstanceUnavailable(): string | null {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'redis-server is not installed';
  }
}

export async function startRedisInstance(): Promise<RedisInstance> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  let paused = false;

  async function start(): Promise<void> {
    if (child) throw new Error('redis-server is already running');
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
      stdio: 'ignore',
    });
    child = proc;
    proc.once('exit', () => {
      if (child === proc) child = null;
    });
    await waitForPong(port, 10_000);
  }

  async function kill(): Promise<void> {
    const proc = child;
    if (!proc) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
    paused = false;
  }

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    pause() {
      child?.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      child?.kill('SIGCONT');
      paused = false;
    },
    start,
    async restart() {
      await kill();
      await start();
    },
    async destroy() {
      if (paused) child?.kill('SIGCONT');
      await kill();
    },
  };
}

/** Resolves once the server answers PING on a plain socket (no client library's retries in the way). */
async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await pings(port)) return;
    if (Date.now() > until) throw new Error(`redis-server on port ${port} did not answer PING in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}
