import { AppError } from '../../platform/errors.js';

/** The media module's error codes (stable: clients match on them). */
export const mediaErrors = {
  /** 400: the body is not an image sharp can decode, or is another format than png, jpeg, webp, gif. */
  invalid: (message: string) => new AppError('invalid', 'media_invalid', message),
  /** 415: the Content-Type is not one of the accepted image types. */
  unsupportedType: (accepted: string[]) =>
    new AppError('unsupported_media_type', 'unsupported_media_type', `Send the image as ${accepted.join(', ')}`, { accepted }),
  /** 404: no such image (or another extension than the image's own). */
  notFound: (file: string) => new AppError('not_found', 'media_not_found', `No media ${file}`, { file }),
};
