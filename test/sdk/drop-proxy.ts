import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the service that loses answers: on the first `drop` connections it
 * forwards the request, lets the service answer (so the work is done and committed), and cuts
 * both sides as the first byte of the answer arrives; the client sees a reset connection and no
 * answer. Later connections pass through. `requests` holds every request's head as received.
 */
export interface DropProxy {
  url: string;
  requests: string[];
  dropped: number;
  close(): Promise<void>;
}

export async function startDropProxy(target: URL, drop = 1): Promise<DropProxy> {
  const sockets = new Set<Socket>();
  const state: DropProxy = { url: '', requests: [], dropped: 0, close: async () => {} };
  let connections = 0;
  const server = createServer((client) => {
    const cut = connections++ < drop;
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    let head = '';
    client.on('data', (chunk: Buffer) => {
      if (!head.includes('\r\n\r\n')) {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) state.requests.push(head.slice(0, head.indexOf('\r\n\r\n')));
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (cut) {
        state.dropped++;
        client.destroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  state.close = async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

/** A header of a request head, as sent. */
export function headerOf(head: string, name: string): string | undefined {
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(line.indexOf(':') + 1).trim();
}
