#!/usr/bin/env node
// `npm start` runs this first (prestart), and `npm test` before tap: it compiles the
// TypeScript sources to dist/ when dist/core/main.js is missing or older than any source
// file, so a fresh clone needs only `npm install && npm start` and a warm start costs one
// quick mtime walk.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { reasonToBuild, ROOT as root } from './build-state.mjs';

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
