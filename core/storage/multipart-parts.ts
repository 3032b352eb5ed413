/** Checks shared by every adapter's multipart completion (see ObjectStore `multipart`). */
import { AppError } from '../errors.js';
import type { StoredPart } from './object-store.js';

/** The checks S3 makes on CompleteMultipartUpload: ascending numbers, each part stored with that ETag. */
export function checkPartList(parts: readonly { number: number; etag: string }[], stored: ReadonlyMap<number, StoredPart>): void {
  if (parts.length === 0) throw new AppError('E_BAD_REQUEST', 'a multipart upload needs at least one part');
  let previous = 0;
  for (const part of parts) {
    if (!(part.number > previous)) throw new AppError('E_BAD_REQUEST', 'parts must be listed in ascending order of their numbers');
    previous = part.number;
    const have = stored.get(part.number);
    if (!have) throw new AppError('E_BAD_REQUEST', `part ${part.number} was not uploaded`);
    if (unquote(have.etag) !== unquote(part.etag)) throw new AppError('E_BAD_REQUEST', `part ${part.number}'s ETag does not match the stored part`);
  }
}

function unquote(etag: string): string {
  return etag.replace(/^W\//, '').replace(/^"|"$/g, '');
}
