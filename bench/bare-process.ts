/** Starts a bench reference server script (bench/bare-*.ts) that prints {"port":N} once it listens. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from '../test/helpers/server.js';

export async function startBareServer(script: string, args: readonly string[]): Promise<{ url: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  for await (const line of createInterface({ input: child.stdout! })) {
    const { port } = JSON.parse(line) as { port: number };
    return { url: `http://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
  }
  throw new Error(`${script} did not start`);
}
