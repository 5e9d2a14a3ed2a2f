import { describe, expect, it } from 'vitest';
import { asBrowser, PASSWORD, randomIp, signIn, signInRaw, uniqueEmail } from '../../test/helpers/console-session.js';
import { must, TEST_MASTER_KEY, testApp } from '../../test/helpers/test-app.js';
import { buildApp } from './build-app.js';
import { loadConfig } from '../config/load.js';
import { hashSecret } from '../platform/secrets.js';
import { ManualClock } from '../platform/clock.js';

/** An app over the shared test database with small lock-out thresholds, sessions cached, and trusted proxies. */
async function consoleApp(overrides: Record<string, unknown> = {}, clock?: ManualClock) {
  const { database } = await testApp();
  const config = loadConfig({
    env: {},
    file: null,
    overrides: {
      'log.level': 'silent',
      'auth.key_cache_seconds': 30,
      'operators.lockout_failures': 3,
      'operators.ip_lockout_failures': 8,
      'server.http.trust_proxy': true,
      'data.redis.key_prefix': `lock-${Date.now()}-${Math.random()}:`,
      ...overrides,
    },
  });
  const app = await buildApp({ config, database, masterKeyHash: hashSecret(TEST_MASTER_KEY), logger: false, ...(clock ? { clock } : {}) });
  await app.ready();
  return app;
}

async function operatorOn(app: Awaited<ReturnType<typeof consoleApp>>) {
  const tenantId = `t_lock${Math.random().toString(36).slice(2, 10)}`;
  const master = { authorization: `Bearer ${TEST_MASTER_KEY}` };
  expect((await app.inject({ method: 'POST', url: '/v1/tenants', headers: master, payload: { tenant_id: tenantId, name: 'L' } })).statusCode).toBe(201);
  const email = uniqueEmail('lock');
  expect((await app.inject({ method: 'POST', url: '/v1/operators', headers: master, payload: { email, password: PASSWORD, tenant_id: tenantId, role: 'admin' } })).statusCode).toBe(201);
  return { tenantId, email };
}

describe('sign-in lock-out', () => {
  it('refuses exactly the attempts past the threshold under parallel wrong passwords, with Retry-After', async () => {
    const app = await consoleApp();
    const { tenantId, email } = await operatorOn(app);
    // Each from its own address: the (tenant, e-mail) count decides.
    const answers = await Promise.all(Array.from({ length: 20 }, () => signInRaw(app, { email, password: 'wrong password!', tenant_id: tenantId })));
    expect(answers.filter((a) => a.status === 401)).toHaveLength(3);
    const locked = answers.filter((a) => a.status === 429);
    expect(locked).toHaveLength(17);
    for (const a of locked) {
      expect(a.body.error.code).toBe('operator_locked');
      expect(Number(a.headers['retry-after'])).toBeGreaterThan(0);
    }
    // The right password is refused too while locked; another account is not.
    expect((await signInRaw(app, { email, password: PASSWORD, tenant_id: tenantId })).body.error.code).toBe('operator_locked');
    const other = await operatorOn(app);
    expect((await signInRaw(app, { email: other.email, password: PASSWORD, tenant_id: other.tenantId })).status).toBe(200);
    await app.close();
  });

  it('locks one address after its own threshold across e-mails, unknown ones included', async () => {
    const app = await consoleApp();
    const { tenantId, email } = await operatorOn(app);
    const ip = randomIp();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => signInRaw(app, { email: uniqueEmail('ghost'), password: 'wrong password!', tenant_id: tenantId }, { ip })),
    );
    expect(answers.filter((a) => a.status === 401)).toHaveLength(8);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(4);
    expect((await signInRaw(app, { email, password: PASSWORD, tenant_id: tenantId }, { ip })).status).toBe(429);
    expect((await signInRaw(app, { email, password: PASSWORD, tenant_id: tenantId }, { ip: randomIp() })).status).toBe(200);
    await app.close();
  });

  it('an unknown e-mail takes about as long as a wrong password (verified against a dummy hash)', async () => {
    const app = await consoleApp({ 'operators.lockout_failures': 100, 'operators.ip_lockout_failures': 1000 });
    const { tenantId, email } = await operatorOn(app);
    const time = async (body: Record<string, unknown>) => {
      const start = performance.now();
      await signInRaw(app, body);
      return performance.now() - start;
    };
    await time({ email: uniqueEmail(), password: 'warm up the dummy', tenant_id: tenantId });
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 5; i++) {
      known.push(await time({ email, password: 'wrong password!', tenant_id: tenantId }));
      unknown.push(await time({ email: uniqueEmail(), password: 'wrong password!', tenant_id: tenantId }));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[2]!;
    expect(median(unknown)).toBeGreaterThan(median(known) * 0.5);
    expect(median(unknown)).toBeLessThan(median(known) * 2);
    await app.close();
  });

  it('sets Secure over TLS (X-Forwarded-Proto from a trusted proxy); sign-out ends a cached session at once', async () => {
    const app = await consoleApp();
    const { tenantId, email } = await operatorOn(app);
    const tls = await signInRaw(app, { email, password: PASSWORD, tenant_id: tenantId }, { headers: { 'x-forwarded-proto': 'https' } });
    expect(String(tls.headers['set-cookie'])).toMatch(/; HttpOnly; SameSite=Strict; Path=\/; Secure$/);
    const browser = await signIn(app, email, PASSWORD, tenantId);
    // Cached now (auth.key_cache_seconds 30): the sign-out must still take effect at once here.
    must(await asBrowser(app, browser, 'GET', '/v1/apps'), 200);
    must(await asBrowser(app, browser, 'GET', '/v1/apps'), 200);
    must(await asBrowser(app, browser, 'DELETE', '/v1/console/session'), 200);
    expect((await asBrowser(app, browser, 'GET', '/v1/apps')).status).toBe(401);
    // A disable through the API too.
    const again = await signIn(app, email, PASSWORD, tenantId);
    must(await asBrowser(app, again, 'GET', '/v1/apps'), 200);
    const master = { authorization: `Bearer ${TEST_MASTER_KEY}` };
    expect((await app.inject({ method: 'PATCH', url: `/v1/operators/${again.operator.operator_id}`, headers: master, payload: { disabled: true } })).statusCode).toBe(200);
    expect((await asBrowser(app, again, 'GET', '/v1/apps')).status).toBe(401);
    await app.close();
  });

  it('ends a session after the idle time, and after the absolute time however busy', async () => {
    const clock = new ManualClock(new Date());
    const app = await consoleApp({ 'operators.session_idle_minutes': 30, 'operators.session_absolute_hours': 2 }, clock);
    const { tenantId, email } = await operatorOn(app);
    const idle = await signIn(app, email, PASSWORD, tenantId);
    clock.advance(29 * 60_000);
    must(await asBrowser(app, idle, 'GET', '/v1/apps'), 200);
    // Used at 29 minutes: idle counts from then.
    clock.advance(29 * 60_000);
    must(await asBrowser(app, idle, 'GET', '/v1/apps'), 200);
    clock.advance(31 * 60_000);
    expect((await asBrowser(app, idle, 'GET', '/v1/apps')).body.error.code).toBe('not_signed_in');

    const busy = await signIn(app, email, PASSWORD, tenantId);
    for (let minutes = 20; minutes < 120; minutes += 20) {
      clock.advance(20 * 60_000);
      must(await asBrowser(app, busy, 'GET', '/v1/console/session'), 200);
    }
    clock.advance(20 * 60_000);
    expect((await asBrowser(app, busy, 'GET', '/v1/console/session')).status).toBe(401);
    await app.close();
  });
});
