/**
 * A real SMTP server for tests, on 127.0.0.1 and a free port (the `smtp-server` package), that
 * keeps what it receives parsed (`mailparser`) and can be told to refuse.
 *
 *   const peer = await startSmtpPeer({ auth: { user: 'u', pass: 'p' } });
 *   // configure the provider with { host: peer.host, port: peer.port }
 *   peer.answer({ code: 421, at: 'rcpt', times: 1 });          // the next transaction is throttled
 *   peer.answer({ code: 550, recipients: ['gone@shop.example'] }); // this mailbox does not exist
 *   const [mail] = await peer.waitFor(1);                      // mail.parsed.subject, mail.envelope.to
 *   peer.connections;                                          // connections accepted so far
 *   await peer.close();
 *
 * TLS: 'none' (the default; no STARTTLS, so a client that does not require TLS talks plain
 * text), 'starttls' or 'implicit', both with the package's built-in self-signed certificate
 * (clients must not verify it). Authentication, when `auth` is given, is required and accepted
 * over plain text, as on a loopback relay.
 */
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface SmtpPeerOptions {
  /** Require AUTH PLAIN/LOGIN with these credentials. */
  auth?: { user: string; pass: string };
  tls?: 'none' | 'starttls' | 'implicit';
}

/** One refusal rule: which reply, at which step, for which recipients, how many times. */
export interface SmtpAnswer {
  /** The SMTP reply code, e.g. 421, 451, 454, 550, 554. */
  code: number;
  /** The reply text after the code (default "Refused by the test peer"). */
  text?: string;
  /** Refuse the RCPT TO command (default) or the message after DATA. */
  at?: 'rcpt' | 'data';
  /** Only for these recipients (case-insensitive); every recipient when absent. */
  recipients?: string[];
  /** Used up after this many refusals; applies until `clearAnswers()` when absent. */
  times?: number;
}

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The authenticated user, when the client logged in. */
  user: string | undefined;
  raw: Buffer;
  parsed: ParsedMail;
}

export interface SmtpPeer {
  host: string;
  port: number;
  /** Messages accepted so far, in arrival order. */
  messages: ReceivedMail[];
  /** Connections accepted so far (every one, including those later closed). */
  readonly connections: number;
  /** The most connections open at the same time. */
  readonly maxOpenConnections: number;
  /** Adds a refusal rule; the first matching rule with uses left answers. */
  answer(rule: SmtpAnswer): void;
  clearAnswers(): void;
  /** Resolves once `count` messages have arrived; rejects after `timeoutMs` (default 5 s). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

interface Rule extends SmtpAnswer {
  remaining: number;
}

export async function startSmtpPeer(options: SmtpPeerOptions = {}): Promise<SmtpPeer> {
  const rules: Rule[] = [];
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  let connections = 0;
  let open = 0;
  let maxOpen = 0;

  /** The refusal for this step and these recipients, using up one of its uses. */
  function refusal(at: 'rcpt' | 'data', recipients: string[]): Error | null {
    const lower = recipients.map((r) => r.toLowerCase());
    const rule = rules.find(
      (r) =>
        r.remaining > 0 &&
        (r.at ?? 'rcpt') === at &&
        (!r.recipients || r.recipients.some((x) => lower.includes(x.toLowerCase()))),
    );
    if (!rule) return null;
    rule.remaining -= 1;
    return Object.assign(new Error(rule.text ?? 'Refused by the test peer'), { responseCode: rule.code });
  }

  const tls = options.tls ?? 'none';
  const server = new SMTPServer({
    secure: tls === 'implicit',
    ...(tls === 'none' ? { disabledCommands: ['STARTTLS'] } : {}),
    authOptional: !options.auth,
    allowInsecureAuth: true,
    disableReverseLookup: true,
    logger: false,
    onConnect(_session, callback) {
      connections += 1;
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      callback();
    },
    onClose() {
      open -= 1;
    },
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        callback(null, { user: auth.username });
      } else {
        callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      }
    },
    onRcptTo(address, _session, callback) {
      callback(refusal('rcpt', [address.address]));
    },
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((a) => a.address);
        const refused = refusal('data', to);
        if (refused) return callback(refused);
        const raw = Buffer.concat(chunks);
        simpleParser(raw).then(
          (parsed) => {
            const mailFrom = session.envelope.mailFrom;
            const user = session.user === undefined ? undefined : String(session.user);
            messages.push({ envelope: { from: mailFrom ? mailFrom.address : '', to }, user, raw, parsed });
            for (const wake of waiters) wake();
            callback();
          },
          (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
        );
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client that drops the connection abruptly is not a test failure.
  server.on('error', () => {});
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    messages,
    get connections() {
      return connections;
    },
    get maxOpenConnections() {
      return maxOpen;
    },
    answer(rule) {
      rules.push({ ...rule, remaining: rule.times ?? Number.POSITIVE_INFINITY });
    },
    clearAnswers() {
      rules.length = 0;
    },
    waitFor(count, timeoutMs = 5_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (messages.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(messages.slice(0, count));
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the SMTP peer received ${messages.length} of ${count} messages in ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      return new Promise<void>((resolve) => {
        // Pooled client connections stay open; do not wait the server's close timeout for them.
        for (const connection of server.connections) (connection as { close?: () => void }).close?.();
        server.close(() => resolve());
      });
    },
  };
}
