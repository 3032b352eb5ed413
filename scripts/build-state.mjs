// Is dist/ current? dist/core/main.js against the newest TypeScript source (and tsconfig).
// Shared by build-if-needed.mjs (`npm start`, `npm test`) and the test helpers, which run
// the compiled build when it is current and the sources under tsx when it is not.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUT = join(ROOT, 'dist', 'core', 'main.js');
const SOURCE_DIRS = ['core', 'config', 'storage-adapters', 'transcription-adapters', 'live', 'plugins', 'web'];
const INPUTS = ['tsconfig.json', 'tsconfig.build.json'];

/** Newest mtime (ms) of the .ts files under `dir`, with the file that has it. */
function newestSource(dir, newest) {
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

/** Why dist/ must be (re)built, or null when it is current. */
export function reasonToBuild() {
  const built = mtimeOf(OUTPUT);
  if (built === null) return `${relative(ROOT, OUTPUT)} is missing`;
  const newest = { mtime: 0, file: '' };
  for (const dir of SOURCE_DIRS) newestSource(join(ROOT, dir), newest);
  for (const file of INPUTS) {
    const mtime = mtimeOf(join(ROOT, file));
    if (mtime !== null && mtime > newest.mtime) Object.assign(newest, { mtime, file: join(ROOT, file) });
  }
  return newest.mtime > built ? `${relative(ROOT, newest.file)} is newer than the build` : null;
}
