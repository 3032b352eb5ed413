/**
 * Entry point. The primary process validates the config, prepares the data dir and the
 * database, then supervises the children; each child runs one role.
 */
import cluster from 'node:cluster';
import { configFileFromArgv, ConfigError, loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { checkDataDir, checkWatermarkImage, refuseExampleSecrets } from '../config/startup-checks.js';
import { closeServices, openMetadataDb, openObjectStore, openServices } from './open-services.js';
import { currentRole, EXIT_REFUSED, runSupervisor } from './cluster.js';
import { ensureAdminToken, ensureSigningSecret } from './http/auth.js';
import { createLogger } from './logger.js';
import { FfmpegUnavailableError } from './media/ffmpeg.js';
import { serveClusterMetrics } from './telemetry/metrics.js';

function load(): Readonly<Config> {
  try {
    return loadConfig({ file: configFileFromArgv(process.argv) });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`framecast: ${err.message}\n`);
      process.exit(EXIT_REFUSED);
    }
    throw err;
  }
}

async function primary(cfg: Readonly<Config>): Promise<void> {
  const logger = createLogger(cfg.log_level, { role: 'supervisor' });
  try {
    refuseExampleSecrets(cfg);
    checkDataDir(cfg.data_dir);
    // Nodes that transcode read the image; an API-only node may have no ffmpeg to check it with.
    if (cfg.roles.includes('worker') || cfg.roles.includes('live')) await checkWatermarkImage(cfg);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    logger.fatal({ err }, err.message);
    process.stderr.write(`framecast: ${err.message}\n`);
    process.exit(EXIT_REFUSED);
  }
  ensureAdminToken(cfg, logger);
  ensureSigningSecret(cfg);
  // Migrate once here so children never race on schema changes, and check the storage: a
  // wrong URL or secret stops the node with its reason instead of children restarting forever.
  try {
    const db = await openMetadataDb(cfg);
    await db.close();
    const store = await openObjectStore(cfg);
    await store.close?.();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    logger.fatal({ err }, message);
    process.stderr.write(`framecast: ${message}\n`);
    process.exit(EXIT_REFUSED);
  }
  serveClusterMetrics(logger);
  runSupervisor(cfg, logger);
}

async function child(cfg: Readonly<Config>): Promise<void> {
  const role = currentRole() ?? 'http';
  const logger = createLogger(cfg.log_level, { role });
  // The roles' code is loaded only in the children (the supervisor never runs it), while the
  // services open.
  const roles = import('./app.js');
  const services = await openServices(cfg, logger);
  let stop: () => Promise<void>;
  try {
    const { startHttpRole, startMediaRole } = await roles;
    stop = role === 'http' ? (await startHttpRole(services)).stop : (await startMediaRole(services)).stop;
  } catch (err) {
    if (err instanceof FfmpegUnavailableError) {
      logger.fatal({ err }, err.message);
      process.stderr.write(`framecast: ${err.message}\n`);
      process.exit(EXIT_REFUSED);
    }
    throw err;
  }
  if (role === 'http') logger.info({ port: cfg.http.port, host: cfg.http.host }, 'http process listening');
  let stopping = false;
  const drain = async () => {
    if (stopping) return;
    stopping = true;
    await stop();
    await closeServices(services);
    process.exit(0);
  };
  process.on('SIGTERM', () => void drain());
  // The supervisor handles Ctrl-C for the whole group.
  process.on('SIGINT', () => undefined);
}

const cfg = load();
if (cluster.isPrimary) await primary(cfg);
else await child(cfg);
