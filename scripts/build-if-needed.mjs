#!/usr/bin/env node
// `npm start` runs this first (prestart): it compiles the TypeScript sources to dist/ when
// dist/core/main.js is missing or older than any source file, so a fresh clone needs only
// `npm install && npm start` and a warm start costs one quick mtime walk.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const output = join(root, 'dist', 'core', 'main.js');
const sourceDirs = ['core', 'config', 'storage-adapters', 'live', 'plugins', 'web'];
const inputs = ['tsconfig.json', 'tsconfig.build.json'];

/** Newest mtime (ms) of the .ts files under `dir`, with the file that has it. */
function newestSource(dir, newest = { mtime: 0, file: '' }) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return newest; // a folder that does not exist yet has nothing to build
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'node_modules') newestSource(path, newest);
    } else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
      const mtime = statSync(path).mtimeMs;
      if (mtime > newest.mtime) Object.assign(newest, { mtime, file: path });
    }
  }
  return newest;
}

function mtimeOf(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return null;
  }
}

function reasonToBuild() {
  const built = mtimeOf(output);
  if (built === null) return `${relative(root, output)} is missing`;
  const newest = { mtime: 0, file: '' };
  for (const dir of sourceDirs) newestSource(join(root, dir), newest);
  for (const file of inputs) {
    const mtime = mtimeOf(join(root, file));
    if (mtime !== null && mtime > newest.mtime) Object.assign(newest, { mtime, file: join(root, file) });
  }
  return newest.mtime > built ? `${relative(root, newest.file)} is newer than the build` : null;
}

const reason = reasonToBuild();
if (reason === null) {
  console.log('build-if-needed: dist/ is up to date');
} else {
  console.log(`build-if-needed: ${reason}; running tsc -p tsconfig.build.json`);
  const tsc = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
  const result = spawnSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  if (result.error) {
    console.error(`build-if-needed: could not run ${tsc}: ${result.error.message}`);
    process.exit(1);
  }
  if (result.status !== 0) {
    console.error(`build-if-needed: tsc failed (exit ${result.status})`);
    process.exit(result.status ?? 1);
  }
  console.log('build-if-needed: build finished');
}
