/**
 * The package's Node build: vite's library mode with packages/sdk/vite.config.ts (--mode node)
 * gives one ESM file that Node 20 imports as is, with openapi-fetch left as an import (a dependency
 * of the package) and no node: import; and package.json's exports name the files the builds write.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as Sdk from '../../packages/sdk/src/index.js';

const SDK_DIR = fileURLToPath(new URL('../../packages/sdk/', import.meta.url));

describe('the SDK Node build', () => {
  let out: string;

  beforeAll(async () => {
    // Inside the repository, so Node resolves openapi-fetch from its node_modules.
    out = await mkdtemp(join(SDK_DIR, '.build-test-'));
    await build({ configFile: join(SDK_DIR, 'vite.config.ts'), mode: 'node', logLevel: 'warn', build: { outDir: out, emptyOutDir: true } });
  }, 120_000);

  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('is one ESM file importing only openapi-fetch, that Node imports and runs', async () => {
    const code = await readFile(join(out, 'index.js'), 'utf8');
    expect([...code.matchAll(/^import .* from ["']([^"']+)["'];?$/gm)].map((m) => m[1])).toEqual(['openapi-fetch']);
    expect(code).not.toMatch(/["']node:/);
    const sdk = (await import(pathToFileURL(join(out, 'index.js')).href)) as typeof Sdk;
    expect(typeof sdk.MarketingSDK).toBe('function');
    expect(typeof sdk.createMarketingClient).toBe('function');
    expect(sdk.ERROR_CODES).toContain('code_not_found');
    const client = new sdk.MarketingSDK({ productCode: 'APP_A', env: 'app', publishableKey: 'pk_x', getUserToken: () => 'e30.eyJzdWIiOiJ1MSJ9.x', baseUrl: 'http://svc', transport: async () => ({ status: 200, headers: {}, body: '{"user_id":"u1","balances":[]}' }) });
    expect(await client.balances()).toEqual({ user_id: 'u1', balances: [] });
  });

  it("package.json's exports name the build's files", async () => {
    const pkg = JSON.parse(await readFile(join(SDK_DIR, 'package.json'), 'utf8')) as { name: string; exports: Record<string, unknown>; types: string };
    expect(pkg.name).toBe('@marketing-hub/sdk');
    expect(pkg.exports['.']).toEqual({ types: './dist/types/index.d.ts', browser: './dist/browser/marketing-sdk.js', import: './dist/node/index.js', default: './dist/node/index.js' });
    expect(pkg.types).toBe('./dist/types/index.d.ts');
  });
});
