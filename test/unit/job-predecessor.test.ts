/**
 * core/jobs/predecessor.ts: a media process names the dead predecessor on this host whose
 * leases it may release, and nobody else.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { takeOverFromPredecessor } from '../../core/jobs/predecessor.js';

const runDir = await mkdtemp(join(tmpdir(), 'framecast-predecessor-'));
t.teardown(() => rm(runDir, { recursive: true, force: true }));
const file = join(runDir, 'media.owner');
// A pid that existed and is gone: a process that already exited.
const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;

t.test('a fresh node has no predecessor and records its own name', async (t) => {
  await rm(file, { force: true });
  t.equal(await takeOverFromPredecessor(runDir, `${hostname()}:${process.pid}:aaaa`), undefined);
  t.equal((await readFile(file, 'utf8')).trim(), `${hostname()}:${process.pid}:aaaa`);
});

t.test('a predecessor on this host whose process is gone is named', async (t) => {
  await writeFile(file, `${hostname()}:${deadPid}:bbbb\n`);
  t.equal(await takeOverFromPredecessor(runDir, `${hostname()}:${process.pid}:cccc`), `${hostname()}:${deadPid}:bbbb`);
});

t.test('a live process or another host is never named', async (t) => {
  await writeFile(file, `${hostname()}:${process.pid}:dddd\n`);
  t.equal(await takeOverFromPredecessor(runDir, `${hostname()}:${process.pid}:eeee`), undefined, 'alive');
  await writeFile(file, `not-${hostname()}:${deadPid}:ffff\n`);
  t.equal(await takeOverFromPredecessor(runDir, `${hostname()}:${process.pid}:gggg`), undefined, 'another host');
  await writeFile(file, 'garbage');
  t.equal(await takeOverFromPredecessor(runDir, `${hostname()}:${process.pid}:hhhh`), undefined, 'unreadable');
});
