/**
 * The node's id for jobs that only it can run (see `EnqueueOptions.node`): made once,
 * kept in the data dir, so it stays the same across restarts and belongs to the disk that
 * holds the node's local work (a live's recording). Two nodes sharing one data dir share the
 * id too, and may then run each other's pinned jobs: they see the same files.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const FILE = 'node-id';

export async function localNodeId(dataDir: string): Promise<string> {
  const file = join(dataDir, FILE);
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim()) return existing.trim();
  await mkdir(dataDir, { recursive: true });
  // 'wx': when two processes start at once, the first file written wins and both read it.
  await writeFile(file, `${randomUUID()}\n`, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'EEXIST') throw err;
  });
  return (await readFile(file, 'utf8')).trim();
}
