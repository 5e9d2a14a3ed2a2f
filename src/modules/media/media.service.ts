import { createHash } from 'node:crypto';
import sharp from 'sharp';
import type { Database, Executor } from '../../db/client.js';
import { type Actor, requireTenant } from '../../platform/actor.js';
import type { Clock } from '../../platform/clock.js';
import { pagination, toPage } from '../../platform/paging.js';
import { mediaErrors } from './media.errors.js';
import * as repo from './media.repo.js';
import type { MediaListView, MediaView } from './media.schemas.js';

/** The accepted upload types and how each is stored. */
export const MEDIA_TYPES: Record<string, { format: 'png' | 'jpeg' | 'webp' | 'gif'; ext: string }> = {
  'image/png': { format: 'png', ext: 'png' },
  'image/jpeg': { format: 'jpeg', ext: 'jpg' },
  'image/webp': { format: 'webp', ext: 'webp' },
  'image/gif': { format: 'gif', ext: 'gif' },
};
const BY_FORMAT = new Map(Object.entries(MEDIA_TYPES).map(([type, t]) => [t.format, { type, ...t }]));
const FILE = /^\/media\/([0-9a-f]{64})\.(png|jpg|webp|gif)$/;
/** A small file can declare a huge canvas (a decompression bomb): refused past this many pixels. */
const MAX_PIXELS = 40_000_000;

export type MediaService = ReturnType<typeof createMediaService>;

const toView = (row: repo.MediaInfo): MediaView => ({
  media_id: row.media_id,
  url: `/media/${row.media_id}.${row.ext}`,
  content_type: row.content_type,
  width: row.width,
  height: row.height,
  bytes: row.bytes,
});

/**
 * Decodes the image with sharp (what it really is decides, not the Content-Type), and encodes it
 * again in the same format: the metadata (EXIF with its GPS position, ICC, XMP, comments) is not
 * carried over, JPEG orientation is applied first. Animated GIF and WebP keep their frames.
 */
async function clean(body: Buffer): Promise<{ data: Buffer; type: string; ext: string; width: number; height: number }> {
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>["metadata"]>>;
  try {
    meta = await sharp(body, { limitInputPixels: MAX_PIXELS, failOn: 'error' }).metadata();
  } catch {
    throw mediaErrors.invalid('The body is not an image that can be decoded');
  }
  const kind = meta.format ? BY_FORMAT.get(meta.format as 'png') : undefined;
  if (!kind) throw mediaErrors.invalid(`The image is ${meta.format ?? 'of an unknown format'}; send png, jpeg, webp or gif`);
  const animated = (meta.pages ?? 1) > 1;
  try {
    let image = sharp(body, { limitInputPixels: MAX_PIXELS, failOn: 'error', animated });
    if (!animated) image = image.rotate();
    image = kind.format === 'png' ? image.png() : kind.format === 'jpeg' ? image.jpeg({ quality: 90, mozjpeg: false }) : kind.format === 'webp' ? image.webp({ quality: 90 }) : image.gif();
    const { data, info } = await image.toBuffer({ resolveWithObject: true });
    return { data, type: kind.type, ext: kind.ext, width: info.width, height: animated ? (info.pageHeight ?? meta.pageHeight ?? info.height) : info.height };
  } catch {
    throw mediaErrors.invalid('The image could not be decoded whole');
  }
}

export function createMediaService(deps: { db: Database; clock: Clock }) {
  const { db, clock } = deps;
  return {
    /**
     * Decodes and cleans an upload (CPU work: run it before the transaction that stores it), and
     * answers the row to store, keyed by the SHA-256 of the stored bytes.
     */
    async prepare(contentType: string | undefined, body: unknown): Promise<repo.MediaRow> {
      const declared = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
      if (!MEDIA_TYPES[declared] || !Buffer.isBuffer(body)) throw mediaErrors.unsupportedType(Object.keys(MEDIA_TYPES));
      if (body.length === 0) throw mediaErrors.invalid('The body is empty');
      const image = await clean(body);
      const row: repo.MediaRow = {
        media_id: createHash('sha256').update(image.data).digest('hex'),
        content_type: image.type,
        ext: image.ext,
        width: image.width,
        height: image.height,
        bytes: image.data.length,
        data: image.data,
        created_at: clock.now(),
      };
      return row;
    },

    /** Stores a prepared image (once: the same bytes are the same id) for the caller's tenant. */
    async save(actor: Actor, row: repo.MediaRow, exec: Executor = db): Promise<MediaView> {
      await repo.saveMedia(exec, row, requireTenant(actor).tenantId);
      return toView(row);
    },

    /** The image behind `/media/{id}.{ext}` (public), or media_not_found. */
    async file(file: string): Promise<repo.MediaRow> {
      const match = FILE.exec(`/media/${file}`);
      const row = match ? await repo.findMedia(db, match[1]!) : undefined;
      if (!row || row.ext !== match![2]) throw mediaErrors.notFound(file);
      return row;
    },

    /** The bytes of a `/media/...` path of this service, or null (the poster reads campaign images here). */
    async read(path: string): Promise<Buffer | null> {
      const match = FILE.exec(path.split('?')[0]!);
      if (!match) return null;
      const row = await repo.findMedia(db, match[1]!);
      return row && row.ext === match[2] ? row.data : null;
    },

    /** The tenant's uploads, newest first. */
    async list(actor: Actor, query: { page?: number | undefined; page_size?: number | undefined }): Promise<MediaListView> {
      const page = toPage(query);
      const { rows, total } = await repo.listMedia(db, requireTenant(actor).tenantId, page.limit, page.offset);
      return { media: rows.map((r) => ({ ...toView(r), uploaded_at: r.uploaded_at.toISOString() })), pagination: pagination(total, page) };
    },
  };
}
