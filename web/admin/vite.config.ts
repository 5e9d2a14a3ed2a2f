/**
 * The admin console (Vite + Vue 3 + Naive UI). Built into web/admin/dist: index.html and hashed
 * files under assets/, served by the service at /admin (the admin-console module). Every page is
 * its own chunk (the router imports them lazily). `npm run build:admin` builds it.
 */
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';
import { precompress } from '../vite-precompress.js';

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
