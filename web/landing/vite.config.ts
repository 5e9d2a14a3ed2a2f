/**
 * The referral campaign's landing page (Vite + Vue 3). Built into web/landing/dist: index.html and
 * hashed files under assets/, served by the service at /p/{campaign_id} and /p/assets/* (the
 * landing-page module). `npm run build:web` builds it.
 */
import { fileURLToPath } from 'node:url';
import vue from '@vitejs/plugin-vue';
import { defineConfig } from 'vite';
import { precompress } from '../vite-precompress.js';

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
