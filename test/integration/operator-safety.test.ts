/**
 * Operators' traps: the compose file's profiles start without clashing and demand real
 * secrets; a node reachable beyond loopback refuses example secrets; a data dir the process
 * cannot write says so plainly; a node started with node's own per-process flags (more heap)
 * still transcodes. (Absolute playback URLs with public_url: version-lifecycle.)
 */
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { api, tusUpload, waitForVideo } from '../helpers/api.js';
import { makeClip } from '../helpers/media-fixtures.js';
import { freePort, REPO_ROOT, runRefusedStart, startServer } from '../helpers/server.js';

const EXIT_REFUSED = 78;

interface ComposeService {
  profiles?: string[];
  ports?: string[];
  environment?: Record<string, string>;
}

// merge: the scale nodes share their settings through YAML merge keys (<<: *scale-node).
const compose = parse(await readFile(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const services = Object.entries(compose.services);

t.test('compose: every service has a profile and no profile publishes a host port twice', async (t) => {
  for (const [name, svc] of services) t.ok(svc.profiles?.length, `${name} has a profile`);
  const profiles = new Set(services.flatMap(([, svc]) => svc.profiles ?? []));
  t.same([...profiles].sort(), ['scale', 'single']);
  for (const profile of profiles) {
    const hostPorts = services
      .filter(([, svc]) => svc.profiles?.includes(profile))
      .flatMap(([, svc]) => (svc.ports ?? []).map((p) => String(p).split(':').slice(0, -1).join(':')));
    t.same(hostPorts, [...new Set(hostPorts)], `profile ${profile}: host ports ${hostPorts.join(', ')} are distinct`);
  }
  t.same(compose.services.minio?.ports ?? [], [], 'the MinIO console (and API) are not published');
});

t.test('compose: secrets have no fallback values; they must be set', async (t) => {
  const text = await readFile(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
  t.notMatch(text, /\$\{[A-Z_]+:?-[^}]+\}/, 'no ${VAR:-default} fallbacks');
  for (const [name, svc] of services) {
    for (const [key, value] of Object.entries(svc.environment ?? {})) {
      if (!/TOKEN|SECRET|PASSWORD|_URL$/.test(key) || key === 'FRAMECAST_PUBLIC_URL') continue;
      if (/TOKEN|SECRET|PASSWORD/.test(key)) t.match(value, /^\$\{[A-Z_]+:\?[^}]+\}$/, `${name}.${key} is required`);
      else t.match(value, /\$\{[A-Z_]+:\?[^}]*\}/, `${name}.${key} embeds a required password`);
    }
  }
  const hasCompose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
  if (!hasCompose) {
    t.comment('docker-compose is not installed: `docker-compose config` checks left out');
    return;
  }
  const secrets = { FRAMECAST_ADMIN_TOKEN: 'a'.repeat(32), FRAMECAST_SIGNING_SECRET: 'b'.repeat(32), POSTGRES_PASSWORD: 'c'.repeat(16), MINIO_ROOT_PASSWORD: 'd'.repeat(16) };
  const run = (env: Record<string, string>, ...args: string[]) =>
    spawnSync('docker-compose', ['-f', join(REPO_ROOT, 'docker-compose.yml'), ...args], { encoding: 'utf8', cwd: tmpdir(), env: { PATH: process.env.PATH ?? '', ...env } });
  for (const profile of ['single', 'scale']) {
    const ok = run(secrets, '--profile', profile, 'config', '-q');
    t.equal(ok.status, 0, `profile ${profile} validates with the secrets set: ${ok.stderr}`);
  }
  const missing = run({ ...secrets, FRAMECAST_SIGNING_SECRET: '' }, '--profile', 'scale', 'config', '-q');
  t.not(missing.status, 0, 'refused without FRAMECAST_SIGNING_SECRET');
  t.match(missing.stderr, /set FRAMECAST_SIGNING_SECRET/);
});

t.test('a node bound beyond loopback with an example secret refuses to start, saying which', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'framecast-example-secret-'));
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  const { code, output } = await runRefusedStart({
    FRAMECAST_HTTP_HOST: '0.0.0.0',
    FRAMECAST_HTTP_PORT: String(await freePort()),
    FRAMECAST_DATA_DIR: dataDir,
    FRAMECAST_ADMIN_TOKEN: 'change-me-admin-token',
    FRAMECAST_SIGNING_SECRET: 'k3v9x2m8q7w1z5t4',
  });
  t.equal(code, EXIT_REFUSED, 'exit code 78 (refused: do not restart)');
  t.match(output, /refusing to start: admin_token \(FRAMECAST_ADMIN_TOKEN\) is a well-known example value/);
  t.notMatch(output, /signing\.secret/, 'a chosen signing secret is not blamed');
});

t.test('a data dir the node cannot write says permission denied and the uid, not ENOENT', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'framecast-datadir-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const locked = join(root, 'locked');
  await mkdir(locked);
  await chmod(locked, 0o755);
  await chmod(root, 0o755);
  // root writes anywhere: run the node as an ordinary user (uid 1000, the image's `node`).
  const asRoot = process.getuid?.() === 0;
  const uid = asRoot ? 1000 : process.getuid!();
  if (!asRoot) await chmod(locked, 0o555);
  const dataDir = join(locked, 'data');
  const { code, output } = await runRefusedStart(
    { FRAMECAST_HTTP_HOST: '127.0.0.1', FRAMECAST_HTTP_PORT: String(await freePort()), FRAMECAST_DATA_DIR: dataDir, FRAMECAST_ADMIN_TOKEN: 'x'.repeat(24), HOME: root },
    asRoot ? { wrap: ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups'] } : {},
  );
  t.equal(code, EXIT_REFUSED);
  t.match(output, `permission denied, ${dataDir} is not writable by uid ${uid}`);
  t.notMatch(output, /ENOENT/);
});

t.test('a node started with per-process node flags (more heap) still transcodes', async (t) => {
  // Worker threads refuse such flags when they are handed to them again: every transcode
  // failed with ERR_WORKER_INVALID_EXEC_ARGV.
  const server = await startServer({ nodeArgs: ['--max-old-space-size=1024', '--stack-size=1000'] });
  t.teardown(() => server.stop());
  const dir = await mkdtemp(join(tmpdir(), 'framecast-flags-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const clip = await makeClip(dir, { width: 320, height: 180, seconds: 2 });
  const up = await tusUpload(server.url, clip, { token: server.adminToken, metadata: { filename: 'flags.mp4' } });
  const video = await waitForVideo(api(server.url, server.adminToken), up.videoId!);
  t.equal(video.status, 'ready', `ready (${JSON.stringify(video.error ?? null)})`);
  t.equal((await fetch(server.url + video.playback.hls_url)).status, 200, 'its playlist is served');
});
