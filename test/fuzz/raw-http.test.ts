/**
 * What app.inject cannot say: raw bytes on a socket to a listening server. Invalid
 * percent-encoding, very long URLs (past Node's 16 KB header limit) and request lines the HTTP
 * parser refuses, on every operation with a path parameter and on list queries. Same promises as
 * the schema fuzz suite: no 5xx, every error in the documented shape.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { systemClock } from '../../src/platform/clock.js';
import { type TenantFixture, type TestApp, testApp } from '../helpers/test-app.js';
import { errorShapeProblem, truncate } from './fuzz-oracle.js';
import { operationsOf } from './schema-values.js';

interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

let server: TestApp;
let port: number;
let tenant: TenantFixture;
let sent = 0;

beforeAll(async () => {
  // An app of its own (same database): listening and closing it leaves the worker's shared app alone.
  server = await testApp({ clock: systemClock });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  port = (server.app.server.address() as { port: number }).port;
  tenant = await server.newTenant();
});

afterAll(async () => {
  console.log(`fuzz (raw HTTP): ${sent.toLocaleString('en-US')} requests on a socket`);
  await server?.app.close();
});

/** Sends `head` (request line and headers, CRLF-separated, no final blank line) and reads to close. */
function rawRequest(head: string, body = ''): Promise<RawReply> {
  sent++;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer in 10 s')), 10_000);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString('latin1')));
    });
    const length = body ? `\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}` : '';
    // write, not end: a client that half-closes first may be dropped by the server before it answers.
    socket.write(`${head}${length}\r\nconnection: close\r\n\r\n${body}`, 'latin1');
  });
}

function parse(text: string): RawReply {
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, split < 0 ? text.length : split).split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).trim().toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  let body = split < 0 ? '' : text.slice(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    let out = '';
    for (let at = 0; ; ) {
      const end = body.indexOf('\r\n', at);
      const size = parseInt(body.slice(at, end), 16);
      if (!size) break;
      out += body.slice(end + 2, end + 2 + size);
      at = end + 2 + size + 2;
    }
    body = out;
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: Buffer.from(body, 'latin1').toString('utf8') };
}

test('raw socket: invalid percent-encoding, long URLs and unparsable request lines', async () => {
  const spec = (await server.call('GET', '/openapi.json')).body;
  const ops = operationsOf(spec);
  const auth = `authorization: Bearer ${tenant.admin}\r\nhost: localhost`;
  const cases: { what: string; head: string; body?: string }[] = [];
  const segments: [string, string][] = [
    ['%ff', 'invalid percent-encoding %ff'],
    ['%', 'lone %'],
    ['%zz', 'invalid percent-encoding %zz'],
    ['%00', 'NUL'],
    ['%ED%A0%80', 'surrogate bytes'],
    ['a'.repeat(10 * 1024), '10 KB path parameter'],
  ];
  // Every operation with a path parameter, the parameter replaced (the others left valid-looking).
  for (const op of ops.filter((o) => o.pathParams.length)) {
    for (const [segment, what] of segments) {
      const url = op.path.replace(/\{[^}]+\}/, segment).replace(/\{[^}]+\}/g, 'fz1');
      cases.push({ what: `${op.id} path <- ${what}`, head: `${op.method} ${url} HTTP/1.1\r\n${auth}`, ...(op.body ? { body: '{}' } : {}) });
    }
  }
  // Every list, with each query value broken the ways a URL can be.
  for (const op of ops.filter((o) => o.method === 'GET' && o.queryParams.length)) {
    const name = op.queryParams.find((p) => p.required)?.name ?? op.queryParams[op.queryParams.length - 1]!.name;
    for (const [value, what] of [['%ff', '%ff'], ['%', 'lone %'], ['%00', 'NUL'], ['a'.repeat(10 * 1024), '10 KB value']]) {
      cases.push({ what: `${op.id} query ${name} <- ${what}`, head: `GET ${op.path.replace(/\{[^}]+\}/g, 'fz1')}?${name}=${value} HTTP/1.1\r\n${auth}` });
    }
  }
  cases.push(
    { what: '20 KB URL (past the 16 KB header limit)', head: `GET /v1/campaigns/${'a'.repeat(20 * 1024)} HTTP/1.1\r\n${auth}` },
    { what: '70 KB query string', head: `GET /v1/campaigns?name=${'a'.repeat(70 * 1024)} HTTP/1.1\r\n${auth}` },
    { what: 'space inside the path', head: `GET /v1/campaigns/a b HTTP/1.1\r\n${auth}` },
    { what: 'NUL byte in the request line', head: `GET /v1/campaigns/a\u0000b HTTP/1.1\r\n${auth}` },
    { what: 'absolute-form URL', head: `GET http://localhost/v1/campaigns/%ff HTTP/1.1\r\n${auth}` },
    { what: 'unknown method', head: `BREW /v1/campaigns HTTP/1.1\r\n${auth}` },
    { what: 'header line without a colon', head: `GET /v1/campaigns HTTP/1.1\r\n${auth}\r\nbroken header` },
    { what: '20 KB header value', head: `GET /v1/campaigns HTTP/1.1\r\n${auth}\r\nx-product-code: ${'a'.repeat(20 * 1024)}` },
  );

  const problems: string[] = [];
  for (const c of cases) {
    let reply: RawReply;
    try {
      reply = await rawRequest(c.head, c.body);
    } catch (err) {
      problems.push(`${c.what}: ${String(err)}`);
      continue;
    }
    const where = `${c.what}\n  request: ${truncate(c.head.split('\r\n')[0]!, 160)}\n  answer:  HTTP ${reply.status} ${truncate(reply.body, 300)}`;
    if (reply.status === 0) problems.push(`no HTTP answer: ${where}`);
    else if (reply.status >= 500) problems.push(`server error: ${where}`);
    else if (reply.status >= 400) {
      const shape = errorShapeProblem(reply.status, reply.headers, reply.body);
      if (shape) problems.push(`error shape (${shape}): ${where}`);
    }
  }
  expect(problems, `${problems.length} of ${cases.length} raw requests failed:\n\n${problems.join('\n\n')}`).toEqual([]);
}, 300_000);
