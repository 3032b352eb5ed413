/** Runs the `framecast` CLI from source (as `npm run framecast --` would) and captures it. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './server.js';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runFramecast(args: readonly string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'core/cli/main.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
