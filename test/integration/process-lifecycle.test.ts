/**
 * The process model: the worker role refuses to start without a usable ffmpeg; a crashed
 * HTTP process is replaced; SIGTERM drains (the running job's lease is released, not
 * burned) and the next start finishes the job.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { freePort, REPO_ROOT, startServer } from '../helpers/server.js';
import { programArgs } from '../helpers/entry.js';
import { eventually } from '../helpers/readiness.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-lifecycle-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

/** Children of a process (from /proc). */
async function childrenOf(ppid: number): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    if (stat && Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) out.push(Number(name));
  }
  return out;
}

t.test('the worker role refuses to start when ffmpeg is older than 5, saying why', async (t) => {
  const bin = join(dir, 'oldbin');
  await rm(bin, { recursive: true, force: true });
  await import('node:fs/promises').then((fs) => fs.mkdir(bin));
  for (const name of ['ffmpeg', 'ffprobe']) {
    await writeFile(join(bin, name), '#!/bin/sh\necho "ffmpeg version 4.4.2-0ubuntu0.22.04.1 Copyright (c) 2000-2021"\n');
    await chmod(join(bin, name), 0o755);
  }
  const data = join(dir, 'refuse-data');
  const child = spawn(process.execPath, programArgs('core/main.ts'), {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      PATH: bin,
      FFMPEG_PATH: '',
      FFPROBE_PATH: '',
      FRAMECAST_DATA_DIR: data,
      FRAMECAST_HTTP_PORT: String(await freePort()),
      FRAMECAST_HTTP_HOST: '127.0.0.1',
      FRAMECAST_WORKERS: '1',
      FRAMECAST_ADMIN_TOKEN: 'x',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  t.not(code, 0, 'the node stops');
  t.match(output, /version 4\.4\.2\S*, 5\.0 or newer is needed/);
  t.match(output, /FFMPEG_PATH/);
});

t.test('a crashed HTTP process is restarted and the node keeps serving', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const media = await server.mediaPid();
  const [http] = (await childrenOf(server.process.pid!)).filter((p) => p !== media);
  t.ok(http, 'found the HTTP process');
  process.kill(http!, 'SIGKILL');
  let ok = false;
  for (let i = 0; i < 100 && !ok; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ok = await fetch(`${server.url}/healthz`).then((r) => r.ok && !!r, () => false);
    if (ok) ok = !(await childrenOf(server.process.pid!)).includes(http!);
  }
  t.ok(ok, 'serving again from a new HTTP process');
});

t.test('SIGTERM drains: the running job is released and the next start finishes it', async (t) => {
  const data = join(dir, 'drain-data');
  const clip = await makeClip(dir, { width: 1280, height: 720, seconds: 20, name: 'drain.mp4' });
  const first = await startServer({ dataDir: data, config: { transcode: { preset: 'veryfast' } } });
  const admin1 = api(first.url, first.adminToken);
  const up = await tusUpload(first.url, clip, { token: first.adminToken, metadata: { filename: 'drain.mp4' } });
  await waitForVideo(admin1, up.videoId!, (v) => v.progress?.stage === 'transcode' && v.progress.percent > 2);
  const exited = new Promise<number | null>((res) => first.process.once('exit', res));
  first.process.kill('SIGTERM');
  t.equal(await exited, 0, 'the node exits cleanly');
  t.match(first.logs(), /job released for another process/);

  const second = await startServer({ dataDir: data, config: { transcode: { preset: 'veryfast' } } });
  t.teardown(async () => {
    await second.stop();
    await rm(data, { recursive: true, force: true });
  });
  const admin2 = api(second.url, second.adminToken);
  const ready = await waitForVideo(admin2, up.videoId!, undefined, 180_000);
  t.equal(ready.status, 'ready');
  // The video turns ready just before the worker records the job's success.
  const succeeded = async () => ((await admin2.json('GET', '/v1/jobs?status=succeeded')).body.items as any[]).find((j) => j.video_id === up.videoId);
  const job = await eventually(succeeded, (j) => j !== undefined, 'the job is recorded as succeeded', 10_000);
  t.equal(job.attempts, 1, 'the drained attempt was not counted');
});
