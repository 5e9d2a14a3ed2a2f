/**
 * The admin console (Vite + Vue 3 + Naive UI). Built into web/admin/dist: index.html and hashed
 * files under assets/, served by the service at /admin (the admin-console module). Every page is
 * its own chunk (the router imports them lazily). `npm run build:admin` builds it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import vue from '@vitejs/plugin-vue';
import { defineConfig, type Plugin } from 'vite';

/** Writes `.br` and `.gz` beside each JS/CSS file once written: the service sends them as they are. */
function precompress(): Plugin {
  return {
    name: 'mh-admin-precompress',
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
  base: '/admin/',
  plugins: [vue(), precompress()],
  define: {
    __VUE_OPTIONS_API__: 'false',
    __VUE_PROD_DEVTOOLS__: 'false',
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    // vue-i18n: messages are plain strings compiled at run time without eval (the CSP has no unsafe-eval).
    __VUE_I18N_FULL_INSTALL__: 'false',
    __VUE_I18N_LEGACY_API__: 'false',
    __INTLIFY_PROD_DEVTOOLS__: 'false',
    __INTLIFY_JIT_COMPILATION__: 'true',
    __INTLIFY_DROP_MESSAGE_COMPILER__: 'false',
  },
  logLevel: 'warn',
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: ['es2020', 'safari14', 'chrome87'],
    reportCompressedSize: false,
    chunkSizeWarningLimit: 1500,
  },
});
