/**
 * Two builds of src/index.ts (library mode):
 * - `--mode node`: ESM for Node 20 and bundlers, dist/node/index.js, openapi-fetch left as an import;
 * - `--mode browser`: dist/browser/marketing-sdk.js (ESM) and marketing-sdk.iife.js (the global
 *   `MarketingHub` for a plain <script>), everything bundled, no node: import.
 * `MH_SDK_OUT` puts the output elsewhere (the tests build into a temporary directory).
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig(({ mode }) => {
  const browser = mode !== 'node';
  const outRoot = process.env.MH_SDK_OUT ?? `${here}dist`;
  return {
    root: here,
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir: `${outRoot}/${browser ? 'browser' : 'node'}`,
      emptyOutDir: true,
      target: browser ? 'es2020' : 'node20',
      minify: browser,
      sourcemap: true,
      lib: {
        entry: `${here}src/index.ts`,
        name: 'MarketingHub',
        formats: browser ? ['es', 'iife'] : ['es'],
        fileName: (format) => (browser ? `marketing-sdk${format === 'iife' ? '.iife' : ''}.js` : 'index.js'),
      },
      rollupOptions: browser ? {} : { external: ['openapi-fetch'] },
    },
  };
});
