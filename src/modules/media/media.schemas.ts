import { type Static, Type } from 'typebox';
import { Pagination, PageQuery, Timestamp } from '../../platform/http/common.schemas.js';

export const MEDIA_FILE_PATTERN = '^[0-9a-f]{64}\\.(png|jpg|webp|gif)$';
export const FileParams = Type.Object({ file: Type.String({ minLength: 68, maxLength: 69, pattern: MEDIA_FILE_PATTERN, description: '{media_id}.{ext}' }) });

export const Media = Type.Object({
  media_id: Type.String({ description: 'The SHA-256 (hex) of the stored bytes' }),
  url: Type.String({ description: 'Where the image is served: /media/{media_id}.{ext} on this service' }),
  content_type: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
});
export type MediaView = Static<typeof Media>;

export const MediaListQuery = Type.Object(PageQuery);
export const MediaList = Type.Object({ media: Type.Array(Type.Object({ ...Media.properties, uploaded_at: Timestamp })), pagination: Pagination });
export type MediaListView = Static<typeof MediaList>;
