import type { Database } from '../../db/client.js';
import type { Clock } from '../../platform/clock.js';
import type { SecretBox } from '../../platform/secret-box.js';
import * as repo from './merchant.repo.js';
import type { SandboxKeys } from './payment.types.js';
import { createSandboxProvider, generateSandboxKeys, type SandboxConfig, type SandboxProvider } from './sandbox.provider.js';
import { wechatCallbackAnswer } from './wechat-pay.notice.js';

const NAME = 'default';

export type StoredSandbox = SandboxProvider & {
  /** Loads (or, the first time anywhere, generates and stores) the keys; later calls answer at once. */
  ready(): Promise<SandboxProvider>;
};

/**
 * The sandbox provider with its keys in the database (sealed): generated once, by whichever
 * process gets there first (insert ... on conflict do nothing, then read), so a sandbox callback
 * verifies in every API process and after a restart. `notice` needs the keys loaded (`ready()`).
 */
export function createStoredSandbox(deps: { db: Database; clock: Clock; box: SecretBox } & Omit<SandboxConfig, 'keys'>): StoredSandbox {
  const { db, clock, box, ...config } = deps;
  let inner: SandboxProvider | null = null;
  let loading: Promise<SandboxProvider> | null = null;

  async function load(): Promise<SandboxProvider> {
    const existing = await repo.findSandboxKeys(db, NAME);
    const sealed = existing ?? (await repo.sandboxKeys(db, NAME, box.seal(generateSandboxKeys()), clock.now()));
    inner = createSandboxProvider({ ...config, keys: box.open<SandboxKeys>(sealed) });
    return inner;
  }

  function ready(): Promise<SandboxProvider> {
    if (inner) return Promise.resolve(inner);
    loading ??= load().catch((err: unknown) => {
      loading = null;
      throw err;
    });
    return loading;
  }

  return {
    kind: 'sandbox',
    ready,
    start: async (input) => (await ready()).start(input),
    pay: async (outTradeNo, options) => (await ready()).pay(outTradeNo, options),
    verifyCallback: async (headers, rawBody) => (await ready()).verifyCallback(headers, rawBody),
    refund: async (input) => (await ready()).refund(input),
    callbackAnswer: wechatCallbackAnswer,
    notice(outTradeNo, options) {
      if (!inner) throw new Error('the sandbox keys are not loaded yet: await ready() first');
      return inner.notice(outTradeNo, options);
    },
  };
}
