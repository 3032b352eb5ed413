/**
 * Configuration: defaults (config/default.yaml) → user YAML file → FRAMECAST_* env →
 * validate (zod) → deep-frozen. A bad value stops start-up with a message naming the key.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { configSchema, type Config } from './schema.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Tree = Record<string, unknown>;

/** Environment variable → dotted config key. The env always wins. */
const ENV_KEYS: Record<string, string> = {
  FRAMECAST_HTTP_PORT: 'http.port',
  FRAMECAST_HTTP_HOST: 'http.host',
  FRAMECAST_RTMP_PORT: 'live.port',
  FRAMECAST_PUBLIC_RTMP_URL: 'live.public_rtmp_url',
  FRAMECAST_SRT_PORT: 'live.srt_port',
  FRAMECAST_PUBLIC_SRT_URL: 'live.public_srt_url',
  FRAMECAST_DATA_DIR: 'data_dir',
  FRAMECAST_ADMIN_TOKEN: 'admin_token',
  FRAMECAST_PUBLIC_URL: 'public_url',
  FRAMECAST_DB_URL: 'db.url',
  FRAMECAST_STORAGE_URL: 'storage.url',
  FRAMECAST_ROLES: 'roles',
  FRAMECAST_WORKERS: 'workers',
  FRAMECAST_LOG_LEVEL: 'log_level',
  FRAMECAST_SIGNING_SECRET: 'signing.secret',
  FRAMECAST_HWACCEL: 'transcode.hwaccel',
  FRAMECAST_MAX_UPLOAD_BYTES: 'limits.max_upload_bytes',
};

const LIST_KEYS = new Set(['roles']);

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function merge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? merge(b, v) : v;
  }
  return out;
}

function setPath(tree: Tree, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = tree;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (!isTree(next)) node[p] = {};
    node = node[p] as Tree;
  }
  node[parts[parts.length - 1]!] = value;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

function readYaml(file: string): Tree {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const parsed: unknown = parseYaml(text) ?? {};
  if (!isTree(parsed)) throw new ConfigError(`config file ${file} must hold a YAML mapping`);
  return parsed;
}


function defaultFile(): string {
  // Works from source (config/load.ts) and from the build (dist/config/load.js).
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [resolve(here, 'default.yaml'), resolve(here, '../../config/default.yaml')];
  for (const c of candidates) {
    try {
      readFileSync(c);
      return c;
    } catch {
      /* try the next */
    }
  }
  throw new ConfigError('config/default.yaml not found');
}

export interface LoadOptions {
  /** A user YAML file merged over the defaults. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Extra values merged last (tests). */
  overrides?: Tree;
  cwd?: string;
}

/** Finds `--config FILE` in argv. */
export function configFileFromArgv(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--config');
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith('--config='));
  return eq?.slice('--config='.length);
}

export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  let tree = readYaml(defaultFile());
  const userFile = opts.file ?? env.FRAMECAST_CONFIG;
  if (userFile) tree = merge(tree, readYaml(resolve(cwd, userFile)));
  const fromEnv: Tree = {};
  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    setPath(fromEnv, key, LIST_KEYS.has(key) ? v.split(',').map((s) => s.trim()).filter(Boolean) : v);
  }
  tree = merge(tree, fromEnv);
  if (opts.overrides) tree = merge(tree, opts.overrides);

  const result = configSchema.safeParse(tree);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const cfg = result.data;
  cfg.data_dir = isAbsolute(cfg.data_dir) ? cfg.data_dir : resolve(cwd, cfg.data_dir);
  return deepFreeze(cfg);
}

/** Resolves a `sqlite:PATH` / `file:PATH` style path against the data dir. */
export function pathUnderDataDir(cfg: Pick<Config, 'data_dir'>, p: string): string {
  return isAbsolute(p) ? p : resolve(cfg.data_dir, p);
}
