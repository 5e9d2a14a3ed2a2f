/**
 * Uploaded images (a referral campaign's main image, ...): stored in the database by the
 * SHA-256 of their cleaned bytes, served publicly at `/media/{id}.{ext}`.
 */
export { createMediaService, MEDIA_TYPES, type MediaService } from './media.service.js';
export { mediaRoutes } from './media.routes.js';
