/**
 * The checksum extension for stores that cannot take bytes back (S3: a written part is part
 * of the multipart upload, and the last one completes it). A PATCH that carries
 * `Upload-Checksum` is spooled to a local file while hashed, and only a body whose digest
 * matches is written to the store; a mismatch answers 460 with nothing written, so no
 * rollback is ever needed. PATCHes without a checksum stream straight through.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { DataStore } from '@tus/utils';
import { ChecksumDataStore } from './checksum-store.js';

export class VerifyFirstDataStore extends ChecksumDataStore {
  constructor(
    inner: DataStore,
    /** Local directory for spooled PATCH bodies (each removed after its request). */
    private readonly spoolDir: string,
  ) {
    super(inner, async () => {
      throw new Error('a verified body cannot mismatch: nothing to roll back');
    });
  }

  override async write(stream: Readable, id: string, offset: number): Promise<number> {
    const expected = this.expectations.get(id);
    if (!expected) return super.write(stream, id, offset);
    await mkdir(this.spoolDir, { recursive: true });
    const spool = join(this.spoolDir, `${randomBytes(8).toString('hex')}.patch`);
    try {
      const hash = createHash(expected.algorithm);
      await pipeline(
        stream,
        new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            cb(null, chunk);
          },
        }),
        createWriteStream(spool),
      );
      if (hash.digest('base64') !== expected.digest) throw { status_code: 460, body: 'Checksum Mismatch\n' };
      return await super.write(createReadStream(spool), id, offset);
    } finally {
      await rm(spool, { force: true });
    }
  }
}
