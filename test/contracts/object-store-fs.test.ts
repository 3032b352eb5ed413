import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import createFsObjectStore from '../../storage-adapters/objects/fs.js';
import { objectStoreContract } from './object-store-suite.js';

async function tempDataDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'framecast-fs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

objectStoreContract(t, async (t) => createFsObjectStore('file:objects', { dataDir: await tempDataDir(t) }));
