/** Configuration: defaults → user YAML → FRAMECAST_* env → validated and frozen. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { ConfigError, configFileFromArgv, loadConfig } from '../../config/load.js';

const dir = await mkdtemp(join(tmpdir(), 'framecast-config-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('defaults match API.md', async (t) => {
  const cfg = loadConfig({ env: {}, cwd: dir });
  t.equal(cfg.http.port, 8080);
  t.equal(cfg.live.port, 1935);
  t.equal(cfg.limits.max_upload_bytes, 20 * 1024 ** 3);
  t.equal(cfg.limits.max_duration_s, 14400);
  t.equal(cfg.limits.max_pixels, 8192 * 4320);
  t.equal(cfg.jobs.timeout_s, 1800);
  t.equal(cfg.live.reconnect_window_s, 30);
  t.same(cfg.roles, ['api', 'worker', 'live']);
  t.same(cfg.transcode.ladder.map((r) => [r.name, r.video_kbps]), [
    ['240p', 300],
    ['360p', 600],
    ['480p', 1100],
    ['720p', 2500],
    ['1080p', 4500],
  ]);
  t.equal(cfg.data_dir, join(dir, 'data'), 'relative data_dir resolves against the working dir');
});

t.test('a user file merges over the defaults and env vars win over both', async (t) => {
  const file = join(dir, 'user.yaml');
  await writeFile(file, 'http:\n  port: 9000\nlimits:\n  max_pixels: 1920x1080\njobs:\n  max_attempts: 5\n');
  const cfg = loadConfig({
    file,
    env: { FRAMECAST_HTTP_PORT: '9100', FRAMECAST_ROLES: 'api, worker', FRAMECAST_DB_URL: 'postgres://x@127.0.0.1/test' },
    cwd: dir,
  });
  t.equal(cfg.http.port, 9100);
  t.equal(cfg.http.host, '0.0.0.0', 'untouched keys keep their defaults');
  t.equal(cfg.limits.max_pixels, 1920 * 1080);
  t.equal(cfg.jobs.max_attempts, 5);
  t.same(cfg.roles, ['api', 'worker']);
  t.equal(cfg.db.url, 'postgres://x@127.0.0.1/test');
  const viaEnv = loadConfig({ env: { FRAMECAST_CONFIG: file }, cwd: dir });
  t.equal(viaEnv.http.port, 9000, 'FRAMECAST_CONFIG names the user file');
});

t.test('the result is frozen', async (t) => {
  const cfg = loadConfig({ env: {}, cwd: dir });
  t.throws(() => {
    (cfg.http as { port: number }).port = 1;
  });
  t.throws(() => {
    (cfg.transcode.ladder as unknown as unknown[]).push({});
  });
});

t.test('a bad value stops start-up with a message naming the key', async (t) => {
  const bad: [Record<string, string>, RegExp][] = [
    [{ FRAMECAST_HTTP_PORT: 'eighty' }, /http\.port/],
    [{ FRAMECAST_HTTP_PORT: '70000' }, /http\.port/],
    [{ FRAMECAST_ROLES: 'api,transcoder' }, /roles\.1/],
    [{ FRAMECAST_DB_URL: 'mysql://x' }, /db\.url/],
    [{ FRAMECAST_STORAGE_URL: 'ftp://x' }, /storage\.url/],
    [{ FRAMECAST_HWACCEL: 'cuda' }, /transcode\.hwaccel/],
  ];
  for (const [env, key] of bad) {
    t.throws(() => loadConfig({ env, cwd: dir }), { name: 'ConfigError', message: key }, JSON.stringify(env));
  }
  const file = join(dir, 'bad.yaml');
  await writeFile(file, 'transcode:\n  ladder:\n    - { name: 720p, height: 720, video_kbps: -5 }\n');
  t.throws(() => loadConfig({ file, env: {}, cwd: dir }), { message: /transcode\.ladder\.0\.video_kbps/ });
  t.throws(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {}, cwd: dir }), ConfigError);
});

t.test('--config FILE and --config=FILE are read from argv', async (t) => {
  t.equal(configFileFromArgv(['node', 'main', '--config', 'a.yaml']), 'a.yaml');
  t.equal(configFileFromArgv(['node', 'main', '--config=b.yaml']), 'b.yaml');
  t.equal(configFileFromArgv(['node', 'main']), undefined);
});
