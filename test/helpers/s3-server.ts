/**
 * A real S3 server for tests: a throwaway single-node Ceph cluster (one monitor, one
 * in-memory OSD) with the RADOS Gateway, bound to 127.0.0.1, started in a temp dir and torn
 * down after. Needs Debian's `radosgw ceph-mon ceph-osd` (.ci/run installs them).
 *
 * Facts it relies on: with `auth = none` radosgw hangs unless `ms mon client mode = crc`;
 * memstore keeps objects in RAM (capped here at 1 GiB), so tests keep media small and
 * delete their buckets' objects.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'minio';
import { freePort } from './server.js';

const run = promisify(execFile);
const BINARIES = ['ceph-mon', 'ceph-osd', 'radosgw', 'radosgw-admin', 'ceph', 'ceph-authtool', 'monmaptool'];
const DAEMONS = ['client.rgw', 'osd.0', 'mon.a'];

export interface S3TestServer {
  host: string;
  port: number;
  accessKey: string;
  secretKey: string;
  region: string;
  /** A client for test set-up and checks. */
  client: Client;
  /** FRAMECAST_STORAGE_URL for `bucket` (`secret` overrides the secret key). */
  url(bucket: string, opts?: { secret?: string }): string;
  /** Creates a bucket with a fresh name and returns the name. */
  createBucket(): Promise<string>;
  /** Deletes every object and incomplete upload in the bucket, then the bucket. */
  removeBucket(bucket: string): Promise<void>;
  stop(): Promise<void>;
}

/** Why a Ceph S3 server cannot be started here, or undefined when it can. */
export function s3Unavailable(): string | undefined {
  const missing = BINARIES.filter((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status !== 0);
  return missing.length ? `Ceph is not installed (missing ${missing.join(', ')}; apt-get install radosgw ceph-mon ceph-osd)` : undefined;
}

function cephConf(dir: string, fsid: string, monV2: number, monV1: number, rgwPort: number): string {
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
ms client mode = crc
mon data avail warn = 1
keyring = ${dir}/keyring
run dir = ${dir}/run
admin socket = ${dir}/run/$name.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
mon cluster log file = ${dir}/log/cluster.log
crash dir = ${dir}/crash
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
paxos propose interval = 0.05
paxos min wait = 0.01

[mon]
mon data = ${dir}/mon.$id
mon initial members = a

[osd]
osd data = ${dir}/osd.$id
osd objectstore = memstore
memstore device bytes = ${process.env.MEMSTORE_BYTES ?? 1024 ** 3}
osd op num shards = 2
osd op num threads per shard = 1
osd mon shutdown timeout = 0.2

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
rgw thread pool size = 64
rgw enable usage log = false
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what} did not come up within ${timeoutMs} ms`);
    await sleep(250);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return !/^\d+ \(.*\) Z/.test(spawnSync('cat', [`/proc/${pid}/stat`]).stdout?.toString() ?? '');
}

/** Stops exactly the daemons started in `dir` (checked by their command line), then removes it. */
async function stopCluster(dir: string, conf: string): Promise<void> {
  const pids: number[] = [];
  for (const name of DAEMONS) {
    const pid = Number((await readFile(join(dir, 'run', `${name}.pid`), 'utf8').catch(() => '')).trim());
    if (!pid || !alive(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes(conf)) continue;
    process.kill(pid, 'SIGTERM');
    pids.push(pid);
  }
  for (let i = 0; i < 50 && pids.some(alive); i++) await sleep(100);
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
}

export async function startS3Server(): Promise<S3TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'framecast-ceph-'));
  for (const sub of ['run', 'log', 'mon.a', 'osd.0']) await mkdir(join(dir, sub));
  const [monV2, monV1, port] = [await freePort(), await freePort(), await freePort()] as [number, number, number];
  const conf = join(dir, 'ceph.conf');
  const fsid = randomUUID();
  const accessKey = 'framecasttestkey';
  const secretKey = randomBytes(18).toString('hex');
  await writeFile(conf, cephConf(dir, fsid, monV2, monV1, port));
  const env = { ...process.env, CEPH_CONF: conf };
  const sh = async (cmd: string, args: string[]) => (await run(cmd, args, { env, timeout: 60_000 })).stdout;
  try {
    const keyring = join(dir, 'keyring');
    await sh('ceph-authtool', ['--create-keyring', keyring, '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await sh('ceph-authtool', [keyring, '--gen-key', '-n', 'client.admin', '--cap', 'mon', 'allow *', '--cap', 'osd', 'allow *', '--cap', 'mgr', 'allow *']);
    const monmap = join(dir, 'monmap');
    await sh('monmaptool', ['--create', '--clobber', '--fsid', fsid, '--addv', 'a', `[v2:127.0.0.1:${monV2},v1:127.0.0.1:${monV1}]`, monmap]);
    await sh('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', monmap, '--keyring', keyring]);
    await sh('ceph-mon', ['-c', conf, '-i', 'a']);
    await sh('ceph', ['-c', conf, '--connect-timeout', '30', 'mon', 'stat']);
    const osdUuid = randomUUID();
    const osdId = (await sh('ceph', ['-c', conf, 'osd', 'new', osdUuid])).trim();
    await sh('ceph-osd', ['-c', conf, '-i', osdId, '--mkfs', '--osd-uuid', osdUuid]);
    await sh('ceph-osd', ['-c', conf, '-i', osdId]);
    await waitFor('the ceph osd', async () => new RegExp(`^osd\\.${osdId} up`, 'm').test(await sh('ceph', ['-c', conf, 'osd', 'dump'])));
    await sh('radosgw-admin', ['-c', conf, '-n', 'client.rgw', 'user', 'create', '--uid=test', '--display-name=test', `--access-key=${accessKey}`, `--secret-key=${secretKey}`]);
    await sh('radosgw', ['-c', conf, '-n', 'client.rgw']);
    await waitFor('radosgw', async () => (await fetch(`http://127.0.0.1:${port}/`)).status < 500);
  } catch (err) {
    const logs = await readdir(join(dir, 'log')).catch(() => [] as string[]);
    const tails = await Promise.all(logs.map(async (f) => `${f}: ${(await readFile(join(dir, 'log', f), 'utf8').catch(() => '')).slice(-1500)}`));
    await stopCluster(dir, conf);
    throw new Error(`starting Ceph S3 failed: ${err instanceof Error ? err.message : String(err)}\n${tails.join('\n')}`, { cause: err });
  }

  const region = 'us-east-1';
  const client = new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey, secretKey, region, pathStyle: true });
  return {
    host: '127.0.0.1',
    port,
    accessKey,
    secretKey,
    region,
    client,
    url: (bucket, opts = {}) =>
      `s3://${encodeURIComponent(accessKey)}:${encodeURIComponent(opts.secret ?? secretKey)}@127.0.0.1:${port}/${bucket}?ssl=false&region=${region}`,
    async createBucket() {
      const name = `fc-${randomBytes(6).toString('hex')}`;
      await client.makeBucket(name, region);
      return name;
    },
    async removeBucket(bucket) {
      const keys: string[] = [];
      for await (const item of client.listObjectsV2(bucket, '', true)) if (item.name) keys.push(item.name);
      if (keys.length) await client.removeObjects(bucket, keys);
      for await (const u of client.listIncompleteUploads(bucket, '', true)) {
        await client.makeRequestAsyncOmit({ method: 'DELETE', bucketName: bucket, objectName: u.key, query: `uploadId=${encodeURIComponent(u.uploadId)}` }, '', [204]);
      }
      await client.removeBucket(bucket);
    },
    stop: () => stopCluster(dir, conf),
  };
}
