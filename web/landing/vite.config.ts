/**
 * The referral campaign's landing page (Vite + Vue 3). Built into web/landing/dist: index.html and
 * hashed files under assets/, served by the service at /p/{campaign_id} and /p/assets/* (the
 * landing-page module). `npm run build:web` builds it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import vue from '@vitejs/plugin-vue';
import { defineConfig, type Plugin } from 'vite';

/**
 * Writes `.br` and `.gz` beside each JS/CSS file: the service sends them as they are. Done once
 * the files are written, so the compressed copies hold the final code (Vite fills in a dynamic
 * import's preload list in its own generateBundle step).
 */
function precompress(): Plugin {
  return {
    name: 'mh-precompress',
    apply: 'build',
    enforce: 'post',
    writeBundle(options, bundle) {
      const dir = options.dir ?? fileURLToPath(new URL('./dist', import.meta.url));
      for (const file of Object.values(bundle)) {
        if (!/\.(js|css)$/.test(file.fileName)) continue;
        const raw = Buffer.from(file.type === 'chunk' ? file.code : file.source);
        const br = brotliCompressSync(raw, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
        writeFileSync(join(dir, `${file.fileName}.br`), br);
        writeFileSync(join(dir, `${file.fileName}.gz`), gzipSync(raw, { level: 9 }));
      }
    },
  };
}

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/p/',
  plugins: [vue(), precompress()],
  // The page uses the Composition API only: Vue's Options API and devtools hooks are left out.
  define: { __VUE_OPTIONS_API__: 'false', __VUE_PROD_DEVTOOLS__: 'false', __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false' },
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: ['es2019', 'safari13', 'chrome80'],
    cssCodeSplit: false,
    modulePreload: false,
    reportCompressedSize: false,
  },
});
