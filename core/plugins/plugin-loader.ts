/**
 * Finds and imports a configured plugin (API.md "Plugins"): `path:` (a folder or a file),
 * else a built-in folder under plugins/ (beside core/, in the source tree or the build),
 * else a folder under `./plugins/` of the working directory, else an npm package by name.
 * A folder's entry is its package.json `main`, else index.js, index.mjs or index.ts.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from '../../config/schema.js';
import type { PluginModule } from './plugin-api.js';

export type PluginSpec = Config['plugins'][number];

/** An imported plugin and the folder its code lives in (errors from there are its own). */
export interface LoadedModule {
  module: PluginModule;
  root: string;
}

const NAME_RE = /^(?:@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;
const ENTRY_FILES = ['index.js', 'index.mjs', 'index.ts'];

/** plugins/ of this build: <repo>/plugins from source, dist/plugins from the build. */
const BUILTIN_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../plugins');

function folderEntry(dir: string): string | undefined {
  const pkgFile = join(dir, 'package.json');
  if (existsSync(pkgFile)) {
    const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { main?: unknown };
    if (typeof pkg.main === 'string' && existsSync(join(dir, pkg.main))) return join(dir, pkg.main);
  }
  return ENTRY_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function asModule(name: string, loaded: unknown): PluginModule {
  const m = loaded as Partial<PluginModule> & { default?: Partial<PluginModule> };
  const candidate = typeof m.register === 'function' ? m : m.default;
  if (!candidate || typeof candidate.register !== 'function') throw new Error(`plugin "${name}" does not export register(api)`);
  if (candidate.unregister !== undefined && typeof candidate.unregister !== 'function') {
    throw new Error(`plugin "${name}": unregister must be a function`);
  }
  return candidate as PluginModule;
}

async function importFile(name: string, file: string): Promise<LoadedModule> {
  return { module: asModule(name, await import(pathToFileURL(file).href)), root: dirname(file) };
}

export async function importPlugin(spec: PluginSpec, cwd: string): Promise<LoadedModule> {
  const { name } = spec;
  if (!NAME_RE.test(name)) throw new Error(`plugin name "${name}" must be a folder or npm package name (lower case, digits, . _ -)`);
  if (spec.path !== undefined) {
    const target = resolve(cwd, spec.path);
    const entry = isDir(target) ? folderEntry(target) : existsSync(target) ? target : undefined;
    if (!entry) throw new Error(`plugin "${name}": nothing to load at ${target}`);
    return importFile(name, entry);
  }
  for (const dir of [join(BUILTIN_DIR, name), join(cwd, 'plugins', name)]) {
    const entry = isDir(dir) ? folderEntry(dir) : undefined;
    if (entry) return importFile(name, entry);
  }
  let url: string;
  try {
    url = import.meta.resolve(name);
  } catch (err) {
    throw new Error(`plugin "${name}" is neither a folder under plugins/ nor an installed npm package`, { cause: err });
  }
  return { module: asModule(name, await import(url)), root: dirname(fileURLToPath(url)) };
}
