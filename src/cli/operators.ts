/**
 * `marketing-hub operators create | list`: console operator accounts from the command line, with
 * the same service as POST /v1/operators (acting as the master key: whoever runs this holds the
 * database credentials). The password is read from stdin (its first line), or asked for without
 * echo, twice, on a terminal; there is never a default password. The first platform operator of
 * an install is made this way. The service is imported when a command runs (main.ts says why).
 */
import { type Command, Option } from 'commander';
import type { OperatorService } from '../modules/operators/index.js';
import { MIN_PASSWORD_LENGTH } from '../modules/operators/password.js';
import { MASTER } from '../platform/actor.js';

interface CreateOptions {
  email: string;
  tenant?: string;
  platform?: boolean;
  role: 'admin' | 'operator' | 'viewer';
  name?: string;
}

export function operatorsCommand(program: Command): void {
  const operators = program.command('operators').description('Manage console operators (sign-in accounts of the admin console)');
  operators
    .command('create')
    .description(`Create an operator; the password (at least ${MIN_PASSWORD_LENGTH} characters) is read from stdin, or asked for on a terminal`)
    .requiredOption('--email <email>', 'sign-in e-mail')
    .option('--tenant <tenant_id>', 'the tenant of the operator (omit for a platform operator)')
    .option('--platform', 'a platform operator (master scope); the default without --tenant')
    .addOption(new Option('--role <role>', 'operator role').choices(['admin', 'operator', 'viewer']).default('admin'))
    .option('--name <name>', 'display name (default: the e-mail)')
    .action(async (opts: CreateOptions) => {
      if (opts.platform && opts.tenant) throw new Error('--platform and --tenant exclude each other');
      const password = await readPassword();
      if (password.length < MIN_PASSWORD_LENGTH) throw new Error(`the password must be at least ${MIN_PASSWORD_LENGTH} characters`);
      await withOperators(async (service) => {
        const created = await service.createOperator(MASTER, {
          email: opts.email,
          password,
          role: opts.role,
          tenant_id: opts.tenant ?? null,
          ...(opts.name ? { name: opts.name } : {}),
        });
        print(created);
      });
    });
  operators
    .command('list')
    .option('--tenant <tenant_id>', "one tenant's operators")
    .option('--platform', 'platform operators only')
    .action((opts: { tenant?: string; platform?: boolean }) =>
      withOperators(async (service) => {
        print(await service.listOperators(MASTER, { page_size: 500, ...(opts.tenant ? { tenant_id: opts.tenant } : {}), ...(opts.platform ? { platform: true } : {}) }));
      }),
    );
}

async function withOperators(work: (service: OperatorService) => Promise<void>): Promise<void> {
  const [{ loadConfig }, { openDatabase }, { migrate }, { createOperatorService }, { createTenantService }, { systemClock }] = await Promise.all([
    import('../config/load.js'),
    import('../db/client.js'),
    import('../db/migrate.js'),
    import('../modules/operators/index.js'),
    import('../modules/tenants/index.js'),
    import('../platform/clock.js'),
  ]);
  const config = loadConfig();
  const database = await openDatabase({ url: config.data.database.source, dataDir: config.data.dir, poolSize: 2 });
  try {
    await migrate(database);
    const { db } = database;
    const tenants = createTenantService({ db, clock: systemClock });
    await work(
      createOperatorService({ db, clock: systemClock, tenantExists: (id, exec) => tenants.requireTenantExists(id, exec), forgetSessions: () => undefined }),
    );
  } finally {
    await database.close();
  }
}

/** The password: the first line of stdin, or typed twice without echo on a terminal. */
async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '');
  }
  const first = await promptHidden('Password: ');
  const second = await promptHidden('Repeat the password: ');
  if (first !== second) throw new Error('the two passwords differ');
  return first;
}

function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const finish = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003') return finish(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
