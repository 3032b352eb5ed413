/**
 * Start-up checks on the deployment, after the config validated: things that are legal
 * config values but would leave a node unsafe or unable to run, each refused with a message
 * that says what to change (the supervisor exits with EXIT_REFUSED instead of looping).
 *
 *  - A node reachable beyond loopback must not run with a secret copied from an example
 *    (the compose file's old `change-me-…` fallbacks, the README's placeholders): anyone who
 *    read the docs would hold the admin token or could sign playback URLs.
 *  - The data dir must be writable by the process: in a container a volume owned by root
 *    otherwise surfaces later as a misleading ENOENT or EACCES deep in SQLite or tus.
 *  - A configured watermark must be a small PNG/JPEG ffmpeg decodes: otherwise every
 *    transcode would fail, one job at a time, long after the operator's change.
 */
import { accessSync, constants, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './schema.js';
import { ConfigError } from './load.js';
import { FfmpegUnavailableError, resolveFfmpeg } from '../core/media/ffmpeg.js';
import { inspectWatermarkImage, WatermarkImageError, type WatermarkImage } from '../core/media/watermark.js';

/** Secrets that appear in examples and must never guard a reachable node. */
const EXAMPLE_SECRET = /^(change[-_ ]?me.*|example|secret|password|admin|framecast|framecast-secret|xxx+|…|\.\.\.)$/i;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1']);

/** True when `host` (http.host) only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127\./.test(host);
}

/** True for a value copied from an example rather than chosen (see EXAMPLE_SECRET). */
export function isExampleSecret(value: string): boolean {
  return value !== '' && EXAMPLE_SECRET.test(value.trim());
}

/** Refuses a node bound beyond loopback whose admin token or signing secret is an example value. */
export function refuseExampleSecrets(cfg: Pick<Config, 'http' | 'admin_token' | 'signing'>): void {
  if (isLoopbackHost(cfg.http.host)) return;
  const offenders = [
    ['admin_token', 'FRAMECAST_ADMIN_TOKEN', cfg.admin_token],
    ['signing.secret', 'FRAMECAST_SIGNING_SECRET', cfg.signing.secret],
  ].filter(([, , value]) => isExampleSecret(value!));
  if (offenders.length === 0) return;
  const names = offenders.map(([key, env]) => `${key} (${env})`).join(' and ');
  throw new ConfigError(
    `refusing to start: ${names} ${offenders.length > 1 ? 'are' : 'is'} a well-known example value and http.host ${cfg.http.host} ` +
      'is reachable beyond this machine; set your own (e.g. `openssl rand -hex 32`) or leave it empty to have one generated',
  );
}

/**
 * Creates the data dir if needed and proves it writable; a permission problem becomes
 * "permission denied, DIR is not writable by uid N" with how to fix it.
 */
export function checkDataDir(dataDir: string): void {
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const who = uid === undefined ? 'this process' : `uid ${uid}`;
  const probe = join(dataDir, `.write-check-${process.pid}`);
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK | constants.X_OK);
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ConfigError(
        `permission denied, ${dataDir} is not writable by ${who}: make it owned by that user ` +
          `(e.g. \`chown -R ${uid ?? 'USER'} ${dataDir}\` on the host, or a volume the container user owns) or set data_dir elsewhere`,
      );
    }
    if (code === 'EROFS') throw new ConfigError(`${dataDir} is on a read-only file system; data_dir must be writable`);
    if (code === 'ENOTDIR' || code === 'EEXIST') throw new ConfigError(`data_dir ${dataDir} is not a directory`);
    throw new ConfigError(`data_dir ${dataDir} cannot be used: ${(err as Error).message}`);
  }
}

/**
 * The configured watermark image, checked (core/media/watermark.ts); null when none is set.
 * A file that is missing, too large or not a PNG/JPEG ffmpeg decodes is a ConfigError naming it.
 */
export async function checkWatermarkImage(
  cfg: Pick<Config, 'transcode'>,
  bins?: { ffmpegPath: string; ffprobePath: string },
): Promise<WatermarkImage | null> {
  const file = cfg.transcode.watermark.image;
  if (file === '') return null;
  try {
    return await inspectWatermarkImage(bins ?? (await resolveFfmpeg()), file);
  } catch (err) {
    if (err instanceof WatermarkImageError) throw new ConfigError(`transcode.watermark.image: ${err.message}`);
    if (err instanceof FfmpegUnavailableError) throw new ConfigError(err.message);
    throw err;
  }
}
