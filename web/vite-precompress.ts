/**
 * A Vite plugin for the service's front ends (web/landing, web/admin): writes `.br` and `.gz`
 * beside each JS/CSS file, which the service sends as they are (src/platform/http/built-site.ts).
 * Done once the files are written, so the compressed copies hold the final code (Vite fills in a
 * dynamic import's preload list in its own generateBundle step).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import type { Plugin } from 'vite';

export function precompress(): Plugin {
  return {
    name: 'mh-precompress',
    apply: 'build',
    enforce: 'post',
    writeBundle(options, bundle) {
      const dir = options.dir!;
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
