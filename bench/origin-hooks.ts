/**
 * What Node's async hooks cost the origin's hot path: two Framecast nodes (one HTTP process
 * each) serve a hot public playlist; one starts with an AsyncLocalStorage in use (promise
 * hooks on, as the tus upload path used to leave every process it ran in), the other as
 * Framecast now runs. Alternating wrk runs; the figure is each node's CPU per request.
 *
 *   node --import tsx bench/origin-hooks.ts [-- --seconds 4 --rounds 3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { api, tusUpload, waitForVideo } from '../test/helpers/api.js';
import { makeClip } from '../test/helpers/media-fixtures.js';
import { startServer, type TestServer } from '../test/helpers/server.js';
import { childrenOf, cpuTimes } from './proc-stats.js';
import { writeResults } from './report.js';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '4' }, rounds: { type: 'string', default: '3' } } });
const dir = await mkdtemp(join(tmpdir(), 'origin-hooks-'));
const hooksOn = join(dir, 'als-on.mjs');
await writeFile(hooksOn, "import { AsyncLocalStorage } from 'node:async_hooks';\nnew AsyncLocalStorage().enterWith({});\n");

/** CPU seconds of a process and all its descendants. */
function treeCpu(pid: number): number {
  let sum = 0;
  try {
    sum = cpuTimes(pid).self;
  } catch {
    return 0;
  }
  for (const child of childrenOf(pid)) sum += treeCpu(child);
  return sum;
}

async function prepare(server: TestServer): Promise<string> {
  const clip = await makeClip(dir, { width: 160, height: 90, seconds: 2 });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'c.mp4', title: 'hooks' } });
  const video = await waitForVideo(api(server.url, server.adminToken), up.videoId!);
  return `${server.url}${video.playback.hls_url}`;
}

const nodes = { hooks_off: await startServer(), hooks_on: await startServer({ env: { NODE_OPTIONS: `--import ${hooksOn}` } }) };
try {
  const urls = { hooks_off: await prepare(nodes.hooks_off), hooks_on: await prepare(nodes.hooks_on) };
  const results: Record<keyof typeof nodes, number[]> = { hooks_off: [], hooks_on: [] };
  for (let round = 0; round < Number(args.rounds); round++) {
    for (const name of ['hooks_off', 'hooks_on'] as const) {
      const pid = nodes[name].process.pid!;
      const before = treeCpu(pid);
      const wrk = spawnSync('wrk', ['-t1', '-c32', `-d${args.seconds}s`, urls[name]], { encoding: 'utf8' });
      const cpu = treeCpu(pid) - before;
      const requests = Number(/(\d+) requests in/.exec(wrk.stdout)?.[1] ?? 0);
      results[name].push((cpu * 1e6) / requests);
      console.log(`${name}: ${requests} requests, ${((cpu * 1e6) / requests).toFixed(1)} µs CPU/request`);
    }
  }
  console.log(JSON.stringify(results));
  console.log(`wrote ${await writeResults('origin-hooks', { seconds: Number(args.seconds), cpu_us_per_request: results })}`);
} finally {
  await Promise.all(Object.values(nodes).map((n) => n.stop()));
}
