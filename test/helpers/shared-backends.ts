/**
 * The backends several nodes share in the scale-out tests: a fresh PostgreSQL database and a
 * bucket on a throwaway Ceph RGW, plus a temp dir; all torn down with the test file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { createTestDatabase } from './postgres.js';
import { startS3Server, type S3TestServer } from './s3-server.js';

export interface SharedBackends {
  dir: string;
  s3: S3TestServer;
  bucket: string;
  /** FRAMECAST_DB_URL and FRAMECAST_STORAGE_URL for a node on these backends. */
  env: { FRAMECAST_DB_URL: string; FRAMECAST_STORAGE_URL: string };
}

export async function startSharedBackends(t: Test, name: string): Promise<SharedBackends> {
  const dir = await mkdtemp(join(tmpdir(), `framecast-${name}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const s3 = await startS3Server();
  t.teardown(() => s3.stop());
  const bucket = await s3.createBucket();
  const database = await createTestDatabase();
  t.teardown(() => database.drop());
  return { dir, s3, bucket, env: { FRAMECAST_DB_URL: database.url, FRAMECAST_STORAGE_URL: s3.url(bucket) } };
}
