/** Runs the `framecast` CLI (as the installed bin would; see entry.ts) and captures it. */
import { execFile } from 'node:child_process';
import { programArgs } from './entry.js';
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
      [...programArgs('core/cli/main.ts'), ...args],
      { cwd: REPO_ROOT, env: { ...process.env, ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
