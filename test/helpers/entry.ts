/**
 * How tests run a Framecast program (the node, the CLI): the compiled build in dist/ when it
 * is current, as `npm start` runs it, else the TypeScript sources under tsx. `npm test`
 * builds first (scripts/build-if-needed.mjs); a single test file run by hand after an edit
 * finds dist/ stale and takes the sources. The build starts a node in half the CPU time
 * (no transpiling loader in each of its processes), which the suite does some 70 times.
 * FRAMECAST_TEST_FROM_SOURCE=1 forces the sources.
 */
import { join } from 'node:path';
import { reasonToBuild, ROOT } from '../../scripts/build-state.mjs';

let distCurrent: boolean | undefined;

/** node arguments that run `source` (a path under the repo, e.g. core/main.ts). */
export function programArgs(source: 'core/main.ts' | 'core/cli/main.ts'): string[] {
  distCurrent ??= !process.env.FRAMECAST_TEST_FROM_SOURCE && reasonToBuild() === null;
  return distCurrent ? [join(ROOT, 'dist', source.replace(/\.ts$/, '.js'))] : ['--import', 'tsx', join(ROOT, source)];
}
