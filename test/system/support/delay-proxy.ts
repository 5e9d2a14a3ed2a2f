import { connect, createServer, type Server, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/**
 * A TCP proxy that holds every chunk `delayMs` in each direction before passing it on: added
 * latency in front of a server, for machines whose kernel has no tc netem. Run as a script it
 * listens on `--listen host:port`, forwards to `--target host:port`, prints `delay proxy
 * listening`, and takes `delay <ms>` lines on standard input to change the delay of every open
 * connection at once (as netem would).
 */
export interface DelayProxy {
  server: Server;
  setDelay(ms: number): void;
  close(): Promise<void>;
}

interface Endpoint {
  host: string;
  port: number;
}

/**
 * Passes chunks from `from` to `to`, each released `delay()` ms after it arrived and never before
 * the one ahead of it, so the byte order holds even when the delay changes mid-stream.
 */
function delayedPipe(from: Socket, to: Socket, delay: () => number): void {
  const queue: { at: number; chunk: Buffer | null }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    const now = Date.now();
    while (queue.length && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      if (chunk) to.write(chunk);
      else to.end();
    }
    if (queue.length) timer = setTimeout(drain, queue[0]!.at - now);
  };
  const push = (chunk: Buffer | null) => {
    const last = queue.length ? queue[queue.length - 1]!.at : 0;
    queue.push({ at: Math.max(Date.now() + delay(), last), chunk });
    if (!timer) drain();
  };
  from.on('data', (chunk: Buffer) => push(chunk));
  from.on('end', () => push(null));
}

export function startDelayProxy(listen: Endpoint, target: Endpoint, delayMs: number): Promise<DelayProxy> {
  let delay = delayMs;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => {});
    }
    delayedPipe(client, upstream, () => delay);
    delayedPipe(upstream, client, () => delay);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () =>
      resolve({
        server,
        setDelay: (ms) => {
          delay = ms;
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      }),
    );
  });
}

function endpoint(value: string | undefined): Endpoint {
  const match = /^(.+):(\d+)$/.exec(value ?? '');
  if (!match) throw new Error(`expected host:port, got ${value}`);
  return { host: match[1]!, port: Number(match[2]) };
}

async function main(argv: string[]): Promise<void> {
  const option = (name: string) => argv[argv.indexOf(name) + 1];
  const proxy = await startDelayProxy(endpoint(option('--listen')), endpoint(option('--target')), Number(option('--delay-ms') ?? 0));
  process.stdout.write('delay proxy listening\n');
  const input = createInterface({ input: process.stdin });
  input.on('line', (line) => {
    const match = /^delay (\d+)$/.exec(line.trim());
    if (match) {
      proxy.setDelay(Number(match[1]));
      process.stdout.write(`delay set to ${match[1]} ms\n`);
    }
  });
  // Standard input closes when the test that started it is gone: never outlive it.
  input.once('close', () => void proxy.close().then(() => process.exit(0)));
  process.once('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
